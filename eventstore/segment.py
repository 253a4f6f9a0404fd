"""One segment file open for reading: its range, its round index, its records.

A segment is named after its base offset (``00000000000000000001.seg``).
Sealed segments are immutable: their range and sparse index come from the
seal at the end of the file (`open_sealed` reads 56 bytes and the index,
never a record). The active segment's index has every round, built by the
scan at open and extended by the writer.

Reads start at the index entry at or before the wanted offset and decode
rounds from there: each round's body checksum is checked as it is read
(bit rot under a running server is refused, not returned), and its records
are decoded with one streaming msgpack Unpacker. Offsets inside a
compacted segment may have holes; the records carry their own offsets.
"""

from __future__ import annotations

import os
import zlib
from array import array
from bisect import bisect_right
from collections.abc import Iterator
from typing import Final

import msgpack
from attrs import define

from eventstore.errors import CorruptLogError, EventStoreError
from eventstore.format import FIRST_BLOCK_BYTES, READ_BLOCK_BYTES, make_record, read_exact
from eventstore.records import Record
from eventstore.segment_codec import (
    INDEX_ENTRY,
    MAX_ROUND_BODY_BYTES,
    ROUND_HEADER,
    ROUND_HEADER_BYTES,
    ROUND_MAGIC,
    SEGMENT_HEADER_BYTES,
    TRAILER_BYTES,
    SegmentHeader,
    decode_index,
    decode_trailer,
)

SEGMENT_SUFFIX: Final = ".seg"
_OFFSET_DIGITS: Final = 20


def segment_name(base_offset: int) -> str:
    """The file name of the segment whose first offset is `base_offset`."""
    return f"{base_offset:0{_OFFSET_DIGITS}d}{SEGMENT_SUFFIX}"


def segment_base(name: str) -> int | None:
    """The base offset a segment file name says, or None for another file."""
    stem = name.removesuffix(SEGMENT_SUFFIX)
    if stem == name or len(stem) != _OFFSET_DIGITS or not stem.isdigit():
        return None
    return int(stem)


@define(kw_only=True, eq=False)
class Segment:
    """A segment file open for reading (the writer's active one included)."""

    path: str
    fd: int
    header: SegmentHeader
    sealed: bool
    data_end: int  # where the rounds end
    last_offset: int  # the highest offset it covers (base - 1 when it covers none)
    records: int
    index_offsets: array[int]
    index_positions: array[int]
    data_crc: int  # sealed: from the seal; active: of the rounds written so far
    file_size: int = 0
    closed: bool = False

    @property
    def base_offset(self) -> int:
        return self.header.base_offset

    @property
    def compacted(self) -> bool:
        return self.header.compacted

    def pread(self, size: int, position: int) -> bytes:
        """Read at `position`. Raises EventStoreError once closed (never a reused fd)."""
        if self.closed:
            raise EventStoreError(f"{self.path}: the log is closed")
        return os.pread(self.fd, size, position)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            os.close(self.fd)

    def corrupt(self, offset: int, position: int, reason: str) -> CorruptLogError:
        return CorruptLogError(self.path, offset=offset, position=position, reason=reason)

    def start_position(self, offset: int) -> int:
        """The position of the indexed round at or before `offset` (the data start if none)."""
        i = bisect_right(self.index_offsets, offset) - 1
        return self.index_positions[i] if i >= 0 else SEGMENT_HEADER_BYTES


def open_sealed(path: str, fd: int, header: SegmentHeader, file_size: int) -> Segment | None:
    """The segment if it carries a whole seal, else None (unsealed, or its seal is damaged).

    A seal is written with one write and one fdatasync: a power cut can
    leave its trailer on disk and not its index, so a damaged seal is read
    as no seal (the newest segment is then scanned and the half seal cut;
    before the newest, it is corruption that `chat-log repair` reseals).
    """
    if file_size < SEGMENT_HEADER_BYTES + TRAILER_BYTES:
        return None
    fields = decode_trailer(os.pread(fd, TRAILER_BYTES, file_size - TRAILER_BYTES))
    if fields is None:
        return None
    first, last, records, data_end, entries, data_crc, index_crc = fields
    index_bytes = entries * INDEX_ENTRY.size
    if data_end + index_bytes + TRAILER_BYTES != file_size or first != header.base_offset:
        return None
    index = decode_index(os.pread(fd, index_bytes, data_end), index_crc)
    if index is None:
        return None
    return Segment(
        path=path,
        fd=fd,
        header=header,
        sealed=True,
        data_end=data_end,
        last_offset=last,
        records=records,
        index_offsets=index[0],
        index_positions=index[1],
        data_crc=data_crc,
        file_size=file_size,
    )


def iter_rounds(
    segment: Segment, position: int, end: int
) -> Iterator[tuple[int, int, memoryview, int]]:
    """Yield ``(first offset, count, body, position)`` of each round in [position, end).

    Every header and body checksum is checked. Raises CorruptLogError and
    what `Segment.pread` raises.
    """
    pread = segment.pread
    unpack = ROUND_HEADER.unpack_from
    crc32 = zlib.crc32
    block = b""
    base = position
    # Start small and grow: a long poll that wants the newest records does
    # not pay for a megabyte it never decodes.
    want = FIRST_BLOCK_BYTES
    while position < end:
        at = position - base
        if at + ROUND_HEADER_BYTES > len(block):
            block = pread(min(max(want, ROUND_HEADER_BYTES), end - position), position)
            want = min(want * 2, READ_BLOCK_BYTES)
            base, at = position, 0
            if len(block) < ROUND_HEADER_BYTES:
                raise segment.corrupt(0, position, "a short round header")
        magic, body_bytes, count, body_crc, first, _durable, crc = unpack(block, at)
        if magic != ROUND_MAGIC or crc32(block[at : at + ROUND_HEADER_BYTES - 4]) != crc:
            raise segment.corrupt(0, position, "round header checksum mismatch")
        if body_bytes > MAX_ROUND_BODY_BYTES:
            raise segment.corrupt(first, position, "round body over the cap")
        body_at = at + ROUND_HEADER_BYTES
        if body_at + body_bytes > len(block):
            size = min(max(want, ROUND_HEADER_BYTES + body_bytes), end - position)
            block = read_exact(pread, size, position, path=segment.path)
            base, body_at = position, ROUND_HEADER_BYTES
            if body_at + body_bytes > len(block):
                raise segment.corrupt(first, position, "the round runs past the data end")
        body = memoryview(block)[body_at : body_at + body_bytes]
        if crc32(body) != body_crc:
            raise segment.corrupt(first, position, "round body checksum mismatch on read")
        yield first, count, body, position
        position += ROUND_HEADER_BYTES + body_bytes


def iter_segment(segment: Segment, first: int, last: int, end: int) -> Iterator[Record]:
    """The records of `segment` with `first` <= offset <= `last`, rounds read up to `end`.

    Raises CorruptLogError (a checksum, or a body that does not decode to
    its records) and what `Segment.pread` raises.
    """
    make = make_record
    unpacker = msgpack.Unpacker(max_buffer_size=MAX_ROUND_BODY_BYTES)
    feed = unpacker.feed
    for round_first, count, body, position in iter_rounds(
        segment, segment.start_position(first), end
    ):
        if round_first > last:
            return
        if not count:
            continue
        feed(body)
        number = round_first - 1
        try:
            if round_first >= first and round_first + count - 1 <= last and not segment.compacted:
                for number, ts, name, data in unpacker:
                    yield make(number, ts, name, data)
            else:
                for number, ts, name, data in unpacker:
                    if first <= number <= last:
                        yield make(number, ts, name, data)
        except (ValueError, TypeError, msgpack.UnpackException) as exc:
            raise segment.corrupt(number + 1, position, f"undecodable record ({exc})") from exc
        if not segment.compacted and number != round_first + count - 1:
            reason = f"the round's last record carries offset {number}"
            raise segment.corrupt(round_first, position, reason)


def round_payloads(
    segment: Segment, body: memoryview, round_first: int, position: int
) -> Iterator[tuple[Record, bytes]]:
    """Each record of one round's body with its stored payload bytes. Raises CorruptLogError."""
    unpacker = msgpack.Unpacker(max_buffer_size=MAX_ROUND_BODY_BYTES)
    unpacker.feed(body)
    start = 0
    number = round_first - 1
    try:
        for number, ts, name, data in unpacker:
            stop = unpacker.tell()
            yield make_record(number, ts, name, data), bytes(body[start:stop])
            start = stop
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise segment.corrupt(number + 1, position, f"undecodable record ({exc})") from exc


def find_payload(segment: Segment, offset: int, end: int) -> tuple[bytes, int] | None:
    """The raw payload of the record at `offset` and its round's position; None in a hole.

    Raises CorruptLogError and what `Segment.pread` raises.
    """
    for round_first, count, body, position in iter_rounds(
        segment, segment.start_position(offset), end
    ):
        if round_first > offset:
            return None
        if not count or (not segment.compacted and round_first + count <= offset):
            continue
        for record, payload in round_payloads(segment, body, round_first, position):
            if record.offset >= offset:
                return (payload, position) if record.offset == offset else None
    return None
