"""Writing segment files: a new segment appears whole, a seal ends one, rounds are batched.

A new segment is written under a temporary name (header, fsync), renamed
into place and its directory fsynced, so a crash never leaves a segment
without its header. `SegmentBuilder` writes a whole segment in one go (the
upgrade from format 1 and compaction use it); the live writer in `file.py`
appends rounds itself and uses `seal_bytes` at a roll.
"""

from __future__ import annotations

import os
import time
import zlib
from array import array
from collections.abc import Iterable
from typing import Final

from eventstore.fileio import fsync_directory
from eventstore.segment import Segment, segment_name
from eventstore.segment_codec import (
    ROUND_HEADER_BYTES,
    ROUND_TARGET_BYTES,
    SEGMENT_HEADER_BYTES,
    SegmentHeader,
    encode_round,
    encode_seal,
    encode_segment_header,
    sparse_index,
)

NEW_SUFFIX: Final = ".new"


def now_ms() -> int:
    return int(time.time() * 1000)


def create_segment(
    directory: str,
    log_id: str,
    base_offset: int,
    *,
    created_ms: int | None = None,
    compacted: bool = False,
    name: str | None = None,
) -> Segment:
    """Create an empty segment file (whole or not at all) and open it read-write.

    Raises OSError.
    """
    final = os.path.join(directory, name or segment_name(base_offset))
    temporary = final + NEW_SUFFIX
    header = encode_segment_header(
        bytes.fromhex(log_id),
        base_offset=base_offset,
        created_ms=now_ms() if created_ms is None else created_ms,
        compacted=compacted,
    )
    fd = os.open(temporary, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        os.pwrite(fd, header, 0)
        os.fsync(fd)
        os.replace(temporary, final)
        fsync_directory(final)
    except BaseException:
        os.close(fd)
        raise
    return Segment(
        path=final,
        fd=fd,
        header=SegmentHeader(
            log_id=log_id,
            base_offset=base_offset,
            created_ms=int.from_bytes(header[36:44], "big"),
            compacted=compacted,
        ),
        sealed=False,
        data_end=SEGMENT_HEADER_BYTES,
        last_offset=base_offset - 1,
        records=0,
        index_offsets=array("Q"),
        index_positions=array("Q"),
        data_crc=0,
        file_size=SEGMENT_HEADER_BYTES,
    )


def seal_bytes(segment: Segment) -> bytes:
    """The seal that ends `segment` as it stands (index from its round starts)."""
    rounds = list(zip(segment.index_offsets, segment.index_positions, strict=True))
    return encode_seal(
        first_offset=segment.base_offset,
        last_offset=segment.last_offset,
        records=segment.records,
        data_end=segment.data_end,
        data_crc=segment.data_crc,
        index=sparse_index(rounds),
    )


def mark_sealed(segment: Segment, seal: bytes) -> None:
    """Turn the in-memory view of a just-sealed segment into a sealed one."""
    rounds = list(zip(segment.index_offsets, segment.index_positions, strict=True))
    kept = sparse_index(rounds)
    segment.index_offsets = array("Q", (o for o, _ in kept))
    segment.index_positions = array("Q", (p for _, p in kept))
    segment.sealed = True
    segment.file_size = segment.data_end + len(seal)


class SegmentBuilder:
    """Writes one whole segment: rounds of payloads, then (optionally) the seal.

    Not thread-safe; every method raises OSError.
    """

    def __init__(self, segment: Segment) -> None:
        self.segment = segment
        self._body: list[bytes] = []
        self._body_bytes = 0
        self._first = 0
        self._count = 0

    @property
    def size(self) -> int:
        """The segment's size once the records added so far are written."""
        pending = ROUND_HEADER_BYTES + self._body_bytes if self._body else 0
        return self.segment.data_end + pending

    def add(self, offset: int, payload: bytes) -> None:
        """Add one record's payload (offsets must grow)."""
        if not self._body:
            self._first = offset
        self._body.append(payload)
        self._body_bytes += len(payload)
        self._count += 1
        self.segment.last_offset = offset
        if self._body_bytes >= ROUND_TARGET_BYTES:
            self.flush_round()

    def add_all(self, records: Iterable[tuple[int, bytes]]) -> None:
        for offset, payload in records:
            self.add(offset, payload)

    def flush_round(self) -> None:
        """Write the records added since the last round as one round."""
        if not self._body:
            return
        segment = self.segment
        data = encode_round(
            b"".join(self._body),
            count=self._count,
            first_offset=self._first,
            durable_through=segment.last_offset,
        )
        _write_all(segment.fd, data, segment.data_end)
        segment.index_offsets.append(self._first)
        segment.index_positions.append(segment.data_end)
        segment.data_end += len(data)
        segment.data_crc = zlib.crc32(data, segment.data_crc)
        segment.records += self._count
        self._body, self._body_bytes, self._count = [], 0, 0

    def seal(self, last_offset: int | None = None) -> None:
        """Write the last round and the seal, then fsync (`last_offset`: the range's end)."""
        self.flush_round()
        segment = self.segment
        if last_offset is not None:
            segment.last_offset = last_offset
        seal = seal_bytes(segment)
        _write_all(segment.fd, seal, segment.data_end)
        os.fsync(segment.fd)
        mark_sealed(segment, seal)

    def finish_active(self) -> None:
        """Write the last round and fsync, leaving the segment active (unsealed)."""
        self.flush_round()
        os.fsync(self.segment.fd)
        self.segment.file_size = self.segment.data_end


def _write_all(fd: int, data: bytes, position: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, position)
        view = view[written:]
        position += written
