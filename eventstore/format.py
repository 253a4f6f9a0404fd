"""The bytes of a log file: a header, then frames.

How this works
--------------
A log file starts with a 32-byte header::

    magic b"CHATLOG\\0" | u16 format version | u16 flags (0) | 16-byte log id | u32 crc32

(big-endian; the crc covers the 28 bytes before it). The version sits at a
fixed place in every format version, so an old program can always tell that
a file is newer than it and refuse it instead of misreading it.

Frames follow, back to back::

    u32 length | u32 crc32(length bytes + payload) | payload

The payload is the msgpack array ``[offset, ts, name, data]`` (an array, not a
map: smaller and faster to decode). A length above the frame cap is
corruption, detected before a single payload byte is read. Offsets are dense
from 1, so the n-th frame carries offset n.

Decoding has two speeds. `decode_payload` checks every field and is used for
single reads and by `chat-log verify`. `iter_decoded` replays many records:
it reads whole frames in blocks of about a megabyte and decodes them with one
streaming msgpack Unpacker, trusting the checksums the open-time scan already
verified and checking only that the offsets follow each other.
"""

from __future__ import annotations

import struct
import zlib
from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

import attrs
import msgpack

from eventstore.errors import (
    CorruptLogError,
    EventStoreError,
    NotAnEventLogError,
    RecordTooLargeError,
    UnsupportedFormatError,
)
from eventstore.records import Record

MAGIC: Final = b"CHATLOG\0"
FORMAT_VERSION: Final = 1
HEADER: Final = struct.Struct(">8sHH16sI")
HEADER_BYTES: Final = HEADER.size  # 32
LOG_ID_BYTES: Final = 16
FRAME_HEADER: Final = struct.Struct(">II")
FRAME_HEADER_BYTES: Final = FRAME_HEADER.size  # 8
U32: Final = struct.Struct(">I")
# 8 MiB: a chat event is a few hundred bytes and files live outside the log,
# so a frame near the cap is already a bug; a larger length is garbage.
DEFAULT_MAX_FRAME_BYTES: Final = 8 * 1024 * 1024
# Reads go through the page cache in blocks of this size: large enough that a
# million-record replay makes a couple of hundred syscalls, small enough that
# the block is noise next to the index (8 bytes per record).
READ_BLOCK_BYTES: Final = 1024 * 1024
FIRST_BLOCK_BYTES: Final = 64 * 1024

# (size in bytes, position) -> bytes; raises OSError or EventStoreError.
PRead = Callable[[int, int], bytes]


def encode_header(log_id: bytes) -> bytes:
    """The header of a new log with this 16-byte id."""
    assert len(log_id) == LOG_ID_BYTES
    head = HEADER.pack(MAGIC, FORMAT_VERSION, 0, log_id, 0)[:-4]
    return head + U32.pack(zlib.crc32(head))


def decode_header(header: bytes, *, path: str) -> str:
    """Check a file's header and return its log id in hex.

    Raises NotAnEventLogError (wrong magic, damaged or short header) and
    UnsupportedFormatError (a format version this code does not know).
    """
    if len(header) < HEADER_BYTES:
        raise NotAnEventLogError(
            path, f"{len(header)} bytes is shorter than the {HEADER_BYTES}-byte header"
        )
    magic, version, _flags, log_id, crc = HEADER.unpack_from(header)
    if magic != MAGIC:
        raise NotAnEventLogError(path, f"bad magic bytes {magic!r}")
    if not 1 <= version <= FORMAT_VERSION:
        raise UnsupportedFormatError(path, version=version, supported=FORMAT_VERSION)
    if zlib.crc32(header[: HEADER_BYTES - 4]) != crc:
        raise NotAnEventLogError(path, "header checksum mismatch")
    return str(log_id.hex())


def new_packer() -> Callable[[Any], bytes]:
    """A reusable msgpack encoder (not thread-safe: one per writer).

    Reusing one Packer saves building a new one per record, which
    `msgpack.packb` does.
    """
    packer = msgpack.Packer()

    def pack(value: Any) -> bytes:
        try:
            return bytes(packer.pack(value))
        except BaseException:
            packer.reset()  # never leave half an object in its buffer
            raise

    return pack


_length_crcs: dict[int, int] = {}
# Frames have a few hundred distinct lengths; bound the cache all the same.
_LENGTH_CRC_CACHE: Final = 4096


def encode_payload(
    offset: int,
    ts: float,
    name: str,
    data: Mapping[str, Any],
    *,
    max_frame_bytes: int,
    pack: Callable[[Any], bytes] = msgpack.packb,
) -> bytes:
    """The msgpack payload of one record: ``[offset, ts, name, data]``.

    `pack` is msgpack.packb or one of `new_packer`. Raises RecordTooLargeError
    over the cap, and EventStoreError for a record that msgpack cannot encode
    or that would not decode again (a map key that is not a string, say): one
    such record would make the log unreadable, so it is refused here, before
    it has an offset.
    """
    if type(ts) not in (int, float) or not isinstance(name, str):
        raise EventStoreError(f"record {name!r}: ts must be a number and name a string")
    fields = data if type(data) is dict else dict(data)
    try:
        payload = pack([offset, ts, name, fields])
    except (TypeError, ValueError, OverflowError) as exc:
        raise EventStoreError(f"record {name!r} cannot be encoded: {exc}") from exc
    if len(payload) > max_frame_bytes:
        raise RecordTooLargeError(len(payload), max_frame_bytes)
    try:
        msgpack.unpackb(payload)
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise EventStoreError(
            f"record {name!r} would not read back ({exc}); map keys must be strings"
        ) from exc
    return payload


def encode_frame(
    offset: int,
    ts: float,
    name: str,
    data: Mapping[str, Any],
    *,
    max_frame_bytes: int,
    pack: Callable[[Any], bytes] = msgpack.packb,
) -> bytes:
    """The format-1 frame of one record (length, checksum, payload).

    Raises what `encode_payload` raises.
    """
    payload = encode_payload(offset, ts, name, data, max_frame_bytes=max_frame_bytes, pack=pack)
    size = len(payload)
    seed = _length_crcs.get(size)
    if seed is None:
        seed = zlib.crc32(U32.pack(size))
        if len(_length_crcs) < _LENGTH_CRC_CACHE:
            _length_crcs[size] = seed
    return FRAME_HEADER.pack(size, zlib.crc32(payload, seed)) + payload


def frame_checksum(frame_head: bytes | memoryview, payload: bytes | memoryview) -> int:
    """The checksum a frame must carry: crc32 over its length bytes and payload."""
    return zlib.crc32(payload, zlib.crc32(frame_head[:4]))


def _record_factory() -> Callable[[int, float, str, dict[str, Any]], Record]:
    """A constructor for Record that skips attrs' keyword handling on the replay path.

    Building a million frozen attrs instances through `__init__` costs about
    0.45 s; setting the four slots directly costs less than half. It is only
    used when Record is exactly the plain slotted class this expects (no
    validators, converters or extra fields); otherwise the real constructor is.
    """
    names = ("offset", "ts", "name", "data")
    fields = attrs.fields(Record)
    plain = tuple(f.name for f in fields) == names and all(
        f.validator is None and f.converter is None for f in fields
    )
    slots = [Record.__dict__.get(n) for n in names]
    if not plain or not all(hasattr(s, "__set__") and hasattr(s, "__get__") for s in slots):

        def slow(offset: int, ts: float, name: str, data: dict[str, Any]) -> Record:
            return Record(offset=offset, ts=ts, name=name, data=data)

        return slow
    set_offset, set_ts, set_name, set_data = (s.__set__ for s in slots)  # type: ignore[union-attr]
    new = object.__new__

    def fast(offset: int, ts: float, name: str, data: dict[str, Any]) -> Record:
        record: Record = new(Record)
        set_offset(record, offset)
        set_ts(record, ts)
        set_name(record, name)
        set_data(record, data)
        return record

    return fast


make_record: Final = _record_factory()


def decode_payload(payload: bytes, *, path: str, expected_offset: int, position: int) -> Record:
    """Decode and check one payload. Raises CorruptLogError."""

    def corrupt(reason: str) -> CorruptLogError:
        return CorruptLogError(path, offset=expected_offset, position=position, reason=reason)

    try:
        fields = msgpack.unpackb(payload)
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise corrupt(f"undecodable payload ({exc})") from exc
    if not isinstance(fields, list) or len(fields) != 4:
        raise corrupt("payload is not a 4-element array")
    offset, ts, name, data = fields
    if type(offset) is not int:
        raise corrupt("the offset is not an integer")
    if offset != expected_offset:
        raise corrupt(f"frame carries offset {offset} where {expected_offset} was expected")
    if type(ts) not in (int, float):
        raise corrupt("the timestamp is not a number")
    if not isinstance(name, str):
        raise corrupt("the name is not a string")
    if not isinstance(data, dict):
        raise corrupt("the data is not a map")
    return make_record(offset, ts, name, data)


def read_exact(pread: PRead, size: int, position: int, *, path: str) -> bytes:
    """Read `size` bytes at `position`. Raises EventStoreError when the file is short."""
    chunk = pread(size, position)
    if len(chunk) == size:
        return chunk
    parts = [chunk]
    got = len(chunk)
    while got < size:
        chunk = pread(size - got, position + got)
        if not chunk:
            raise EventStoreError(
                f"{path} is shorter than expected: wanted {size} bytes at {position}"
            )
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def iter_blocks(
    pread: PRead,
    index: array[int],
    *,
    first: int,
    last: int,
    end_position: int,
    path: str,
    block_bytes: int = READ_BLOCK_BYTES,
) -> Iterator[tuple[int, int, bytes]]:
    """Read the frames of offsets `first`..`last` in blocks of whole frames.

    Yields ``(first offset, last offset, bytes)`` per block; blocks grow from
    64 KiB to `block_bytes`; a frame larger than a block gets one of its own.
    `index[n - 1]` is the position of offset n's frame and `end_position` is
    where the frame of the last offset in `index` ends. Raises what `pread`
    raises and EventStoreError when the file is shorter than the index says.
    """
    head = len(index)

    def frame_end(offset: int) -> int:
        return index[offset] if offset < head else end_position

    offset = first
    # Start small and double: a reader that wants the few newest records
    # (a long poll catching up) does not pay for a megabyte it never decodes.
    size = min(FIRST_BLOCK_BYTES, block_bytes)
    while offset <= last:
        start = index[offset - 1]
        limit = start + size
        size = min(size * 2, block_bytes)
        # Offsets in [offset, upto) end at or before `limit` (index[n] is where n ends).
        upto = bisect_right(index, limit, offset, last)
        block_last = last if upto == last and frame_end(last) <= limit else upto - 1
        block_last = max(block_last, offset)
        yield offset, block_last, read_exact(pread, frame_end(block_last) - start, start, path=path)
        offset = block_last + 1


def iter_decoded(
    pread: PRead,
    index: array[int],
    *,
    first: int,
    last: int,
    end_position: int,
    path: str,
    block_bytes: int = READ_BLOCK_BYTES,
) -> Iterator[Record]:
    """Yield records `first`..`last` (offsets, inclusive) from verified frames.

    See `iter_blocks` for the arguments. Raises CorruptLogError when a frame
    does not decode or carries the wrong offset, and whatever `pread` raises
    (EventStoreError once the log is closed).
    """
    blocks = iter_blocks(
        pread,
        index,
        first=first,
        last=last,
        end_position=end_position,
        path=path,
        block_bytes=block_bytes,
    )
    record = make_record  # locals, not globals, in the loop that runs per record
    head_bytes = FRAME_HEADER_BYTES
    for block_first, block_last, block in blocks:
        unpacker = msgpack.Unpacker(max_buffer_size=len(block))
        unpacker.feed(block)
        skip_head = unpacker.read_bytes
        unpack = unpacker.unpack
        for expected in range(block_first, block_last + 1):
            try:
                skip_head(head_bytes)
                number, ts, name, data = unpack()
            except (ValueError, TypeError, msgpack.UnpackException) as exc:
                raise CorruptLogError(
                    path,
                    offset=expected,
                    position=index[expected - 1],
                    reason=f"undecodable payload ({exc})",
                ) from exc
            if number != expected:
                raise CorruptLogError(
                    path,
                    offset=expected,
                    position=index[expected - 1],
                    reason=f"frame carries offset {number!r} where {expected} was expected",
                )
            yield record(number, ts, name, data)
