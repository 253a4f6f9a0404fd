"""The bytes of a segment file (log format 2): header, rounds, and the seal.

How this works
--------------
A segment starts with a 48-byte header::

    magic b"CHATLOG\\0" | u16 format version (2) | u16 flags | 16-byte log id
    | u64 base offset | u64 created (unix ms) | u32 crc32

The magic and the version sit where format 1 has them, so a format-1
program refuses a segment as "newer" rather than misreading it. Flag bit 0
marks a segment rewritten by compaction (its offsets may have holes).

Rounds follow: the unit the writer puts on disk between two fsyncs::

    b"RND2" | u32 body bytes | u32 record count | u32 crc32(body)
    | u64 first offset | u64 durable through | u32 crc32(the 32 bytes before)

then the body: the records' msgpack payloads ``[offset, ts, name, data]``
back to back. `durable through` is the highest offset the writer knew to be
fsynced when it wrote the round; it is what lets recovery tell an
unacknowledged last round, written partly and out of order, from damage to
acknowledged data (see `recovery`). An empty round (count 0) only carries
that claim (the writer adds one at close).

A sealed segment ends with its seal: a sparse index, then a fixed trailer::

    index entries: u64 offset | u64 position of the round holding it   (n of them)
    trailer: b"CHATSEAL" | u64 first offset | u64 last offset | u64 records
             | u64 data end | u32 index entries | u32 crc32(data) | u32 crc32(index)
             | u32 crc32(the 52 bytes before)

`data end` is where the rounds stop; the data checksum covers every byte
from the end of the header to it. The trailer is the last thing in the file,
so opening a sealed segment reads 56 bytes and its index, never a record.
"""

from __future__ import annotations

import struct
import zlib
from array import array
from typing import Final

from attrs import frozen

from eventstore.errors import NotAnEventLogError, UnsupportedFormatError
from eventstore.format import LOG_ID_BYTES, MAGIC

SEGMENT_VERSION: Final = 2
SEGMENT_HEADER: Final = struct.Struct(">8sHH16sQQI")
SEGMENT_HEADER_BYTES: Final = SEGMENT_HEADER.size  # 48
FLAG_COMPACTED: Final = 1

ROUND_MAGIC: Final = b"RND2"
ROUND_HEADER: Final = struct.Struct(">4sIIIQQI")
ROUND_HEADER_BYTES: Final = ROUND_HEADER.size  # 36
# A round holds whole batches; the writer starts a new round past this many
# body bytes, so one fsync covers at most about this much (a single batch
# may be larger, up to MAX_ROUND_BODY_BYTES).
ROUND_TARGET_BYTES: Final = 1024 * 1024
# Larger is garbage: refused before the body is read (and a batch larger
# than this is refused at append).
MAX_ROUND_BODY_BYTES: Final = 256 * 1024 * 1024

SEAL_MAGIC: Final = b"CHATSEAL"
TRAILER: Final = struct.Struct(">8sQQQQIIII")
TRAILER_BYTES: Final = TRAILER.size  # 56
INDEX_ENTRY: Final = struct.Struct(">QQ")
# One index entry per this many bytes of rounds: a read by offset decodes at
# most about this much before it reaches its record.
INDEX_EVERY_BYTES: Final = 64 * 1024


@frozen(kw_only=True)
class SegmentHeader:
    """What a segment's header says."""

    log_id: str
    base_offset: int
    created_ms: int
    compacted: bool


@frozen(kw_only=True)
class RoundHeader:
    """What a round's header says; the body follows it."""

    body_bytes: int
    count: int
    body_crc: int
    first_offset: int
    durable_through: int


@frozen(kw_only=True)
class Seal:
    """A sealed segment's trailer and sparse index."""

    first_offset: int
    last_offset: int
    records: int
    data_end: int
    data_crc: int
    index_offsets: array[int]
    index_positions: array[int]


def encode_segment_header(
    log_id: bytes, *, base_offset: int, created_ms: int, compacted: bool = False
) -> bytes:
    """The header of a new segment."""
    assert len(log_id) == LOG_ID_BYTES
    flags = FLAG_COMPACTED if compacted else 0
    head = SEGMENT_HEADER.pack(MAGIC, SEGMENT_VERSION, flags, log_id, base_offset, created_ms, 0)
    return head[:-4] + zlib.crc32(head[:-4]).to_bytes(4, "big")


def decode_segment_header(data: bytes, *, path: str) -> SegmentHeader:
    """Check a segment's header.

    Raises NotAnEventLogError (wrong magic, short or damaged header) and
    UnsupportedFormatError (a version other than 2).
    """
    if len(data) < SEGMENT_HEADER_BYTES:
        raise NotAnEventLogError(
            path, f"{len(data)} bytes is shorter than the {SEGMENT_HEADER_BYTES}-byte header"
        )
    magic, version, flags, log_id, base, created_ms, crc = SEGMENT_HEADER.unpack_from(data)
    if magic != MAGIC:
        raise NotAnEventLogError(path, f"bad magic bytes {magic!r}")
    if version != SEGMENT_VERSION:
        raise UnsupportedFormatError(path, version=version, supported=SEGMENT_VERSION)
    if zlib.crc32(data[: SEGMENT_HEADER_BYTES - 4]) != crc:
        raise NotAnEventLogError(path, "header checksum mismatch")
    return SegmentHeader(
        log_id=log_id.hex(),
        base_offset=base,
        created_ms=created_ms,
        compacted=bool(flags & FLAG_COMPACTED),
    )


def encode_round(body: bytes, *, count: int, first_offset: int, durable_through: int) -> bytes:
    """A round: its header, then `body` (the `count` payloads back to back)."""
    head = ROUND_HEADER.pack(
        ROUND_MAGIC, len(body), count, zlib.crc32(body), first_offset, durable_through, 0
    )
    return head[:-4] + zlib.crc32(head[:-4]).to_bytes(4, "big") + body


def decode_round_header(data: bytes | memoryview, at: int = 0) -> RoundHeader | None:
    """The round header at `at`, or None when it is not one (magic, checksum, size)."""
    if len(data) - at < ROUND_HEADER_BYTES:
        return None
    magic, body_bytes, count, body_crc, first, durable, crc = ROUND_HEADER.unpack_from(data, at)
    if magic != ROUND_MAGIC or body_bytes > MAX_ROUND_BODY_BYTES:
        return None
    if zlib.crc32(data[at : at + ROUND_HEADER_BYTES - 4]) != crc:
        return None
    return RoundHeader(
        body_bytes=body_bytes,
        count=count,
        body_crc=body_crc,
        first_offset=first,
        durable_through=durable,
    )


def encode_seal(
    *,
    first_offset: int,
    last_offset: int,
    records: int,
    data_end: int,
    data_crc: int,
    index: list[tuple[int, int]],
) -> bytes:
    """The seal (sparse index, then trailer) that ends a sealed segment."""
    entries = b"".join(INDEX_ENTRY.pack(offset, position) for offset, position in index)
    trailer = TRAILER.pack(
        SEAL_MAGIC,
        first_offset,
        last_offset,
        records,
        data_end,
        len(index),
        data_crc,
        zlib.crc32(entries),
        0,
    )[:-4]
    return entries + trailer + zlib.crc32(trailer).to_bytes(4, "big")


def decode_trailer(data: bytes) -> tuple[int, int, int, int, int, int, int] | None:
    """The fields of a trailer (first, last, records, data end, entries, data crc, index crc).

    None when `data` is not a whole, checksummed trailer.
    """
    if len(data) != TRAILER_BYTES:
        return None
    magic, first, last, records, data_end, entries, data_crc, index_crc, crc = TRAILER.unpack_from(
        data
    )
    if magic != SEAL_MAGIC or zlib.crc32(data[:-4]) != crc:
        return None
    return first, last, records, data_end, entries, data_crc, index_crc


def decode_index(data: bytes, expected_crc: int) -> tuple[array[int], array[int]] | None:
    """The sparse index's offsets and positions, or None when its checksum fails."""
    if zlib.crc32(data) != expected_crc or len(data) % INDEX_ENTRY.size:
        return None
    pairs = array("Q", data)
    if struct.pack("=I", 1) != struct.pack(">I", 1):
        pairs.byteswap()
    return pairs[0::2], pairs[1::2]


def sparse_index(rounds: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Every round start (offset, position) at least INDEX_EVERY_BYTES after the last kept."""
    kept: list[tuple[int, int]] = []
    last = -INDEX_EVERY_BYTES
    for offset, position in rounds:
        if position - last >= INDEX_EVERY_BYTES:
            kept.append((offset, position))
            last = position
    return kept
