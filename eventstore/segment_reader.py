"""A read-only view of a log directory for the offline tools.

It never takes the writer lock and never writes, so `chat-log` can inspect
(and follow) the log of a running server. `scan` opens every segment: a
sealed one by its seal (with `full`, also every round, its data checksum
and its record count, which is what `chat-log verify` asks); the newest
unsealed one by scanning its rounds. A broken tail is reported, not cut: on
a live log it is usually the round the server is writing right now. The
first problem found stops the view there: records after it are not served.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator

import attrs

from eventstore.compaction import raw_records
from eventstore.fileio import fd_reader
from eventstore.format import decode_payload, read_exact
from eventstore.opening import active_segment, open_segment, segment_files
from eventstore.reader import ClosingReader, StoredRecord
from eventstore.recovery import Problem, Progress, classify_tail, scan_rounds
from eventstore.segment import Segment, find_payload
from eventstore.segment_codec import SEGMENT_HEADER_BYTES, decode_segment_header


class SegmentLogReader(ClosingReader):
    """Read-only access to a log directory. Use as a context manager.

    Raises OSError, NotAnEventLogError and UnsupportedFormatError from `scan`.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.segments: list[Segment] = []
        self.log_id = ""
        self.problem: Problem | None = None
        self.file_size = 0  # bytes of every segment file
        self._stat = os.stat(path)
        if not os.path.isdir(path):
            raise NotADirectoryError(path)

    def close(self) -> None:
        for segment in self.segments:
            segment.close()
        self.segments = []

    @property
    def head(self) -> int:
        return self.segments[-1].last_offset if self.segments else 0

    @property
    def first_offset(self) -> int:
        return self.segments[0].base_offset if self.segments else 1

    @property
    def durable_head(self) -> int:
        """The last good offset (what a snapshot may point at)."""
        return self.head

    def payload_checksum(self, offset: int) -> int | None:
        """The crc32 of the stored payload at `offset`, None when the view does not hold it."""
        for segment in self.segments:
            if segment.base_offset <= offset <= segment.last_offset:
                found = find_payload(segment, offset, segment.data_end)
                return None if found is None else zlib.crc32(found[0])
        return None

    @property
    def end(self) -> int:
        """Bytes of good data over every segment (headers and rounds)."""
        return sum(s.data_end for s in self.segments)

    def scan(self, progress: Progress | None = None, *, full: bool = False) -> None:
        """Open every segment up to the first problem (see the module's comment)."""
        self.close()
        files = segment_files(self.path)
        self.problem = None
        self.file_size = 0
        if not files:
            self.problem = Problem(
                kind="corrupt", offset=1, position=0, reason="no segment", path=self.path
            )
            return
        for n, (base, path) in enumerate(files):
            sealed, fd, size = open_segment(path, writable=False)
            self.file_size += size
            next_base = files[n + 1][0] if n + 1 < len(files) else None
            segment = sealed or self._scan_active(path, fd, size, next_base=next_base)
            if self.segments:
                self._check_follows(self.segments[-1], segment)
            self.segments.append(segment)
            if base != segment.base_offset:
                self._stop(segment, segment.base_offset, 0, "the file name and header disagree")
            if full and sealed is not None and not self.stopped():
                self._check_sealed(segment)
            if not self.log_id:
                self.log_id = segment.header.log_id
            if progress is not None:
                progress(self.file_size, self.file_size)
            if self.stopped():
                for later in files[n + 1 :]:
                    self.file_size += os.path.getsize(later[1])
                return

    def stopped(self) -> bool:
        """Whether the scan found a problem (records after it are not served)."""
        return self.problem is not None

    def _stop(self, segment: Segment, offset: int, position: int, reason: str) -> None:
        self.problem = Problem(
            kind="corrupt", offset=offset, position=position, reason=reason, path=segment.path
        )

    def _check_follows(self, before: Segment, after: Segment) -> None:
        if after.header.log_id != before.header.log_id:
            self._stop(after, after.base_offset, 0, "its log id differs from the segment before")
        elif after.base_offset != before.last_offset + 1:
            self._stop(
                after,
                before.last_offset + 1,
                0,
                f"offsets {before.last_offset + 1}..{after.base_offset - 1} are missing",
            )

    def _scan_active(self, path: str, fd: int, size: int, *, next_base: int | None) -> Segment:
        header = decode_segment_header(os.pread(fd, SEGMENT_HEADER_BYTES, 0), path=path)
        pread = fd_reader(fd)
        scan = scan_rounds(
            pread,
            start=SEGMENT_HEADER_BYTES,
            file_size=size,
            next_offset=header.base_offset,
            dense=not header.compacted,
        )
        segment = active_segment(path, fd, header, scan)
        segment.file_size = size
        follows = next_base == scan.next_offset or (
            # a compacted segment may end in holes
            header.compacted and next_base is not None and next_base > scan.next_offset
        )
        if next_base is not None and follows:
            self.problem = Problem(
                kind="corrupt",
                offset=next_base,
                position=scan.end,
                reason="not the newest segment, yet its seal is missing or damaged (its rounds "
                "are whole: `chat-log repair` writes its seal again)",
                path=path,
                seal_only=True,
            )
        elif next_base is not None:
            self._stop(segment, segment.last_offset + 1, scan.end, "not sealed, yet not the newest")
        elif scan.problem is not None:
            problem = classify_tail(pread, problem=scan.problem, file_size=size)
            self.problem = attrs.evolve(problem, path=path)
        return segment

    def _check_sealed(self, segment: Segment) -> None:
        """Scan a sealed segment's rounds and check its data checksum and record count."""
        size = segment.data_end
        scan = scan_rounds(
            segment.pread,
            start=SEGMENT_HEADER_BYTES,
            file_size=size,
            next_offset=segment.base_offset,
            dense=not segment.compacted,
        )
        crc = 0
        position = SEGMENT_HEADER_BYTES
        while position < size:
            chunk = read_exact(segment.pread, min(1 << 20, size - position), position, path="")
            crc = zlib.crc32(chunk, crc)
            position += len(chunk)
        if scan.problem is not None:
            problem = scan.problem
            self._stop(segment, problem.offset, problem.position, problem.reason)
        elif crc != segment.data_crc:
            self._stop(segment, segment.base_offset, SEGMENT_HEADER_BYTES, "data checksum mismatch")
        elif scan.records != segment.records:
            self._stop(segment, segment.base_offset, 0, "record count differs from the seal")
        if self.problem is not None:
            segment.records = scan.records
            segment.data_end = self.problem.position or SEGMENT_HEADER_BYTES
            segment.last_offset = self.problem.offset - 1

    def refresh(self) -> int:
        """Pick up rounds and segments written since the last look; return how many records.

        A round being written is left for the next call.
        """
        if not self.segments or (self.problem is not None and self.problem.kind == "corrupt"):
            return 0
        before = self.head
        active = self.segments[-1]
        newer = [f for f in segment_files(self.path) if f[0] > active.base_offset]
        size = os.fstat(active.fd).st_size
        scan = scan_rounds(
            active.pread, start=active.data_end, file_size=size, next_offset=active.last_offset + 1
        )
        active.data_end, active.last_offset = scan.end, scan.next_offset - 1
        active.index_offsets += scan.round_offsets
        active.index_positions += scan.round_positions
        self.problem = None
        if newer and active.last_offset + 1 == newer[0][0]:
            for _base, path in newer:
                sealed, fd, size = open_segment(path, writable=False)
                self.segments.append(sealed or self._scan_active(path, fd, size, next_base=None))
        return self.head - before

    def shrunk(self) -> bool:
        """Whether the directory was replaced or the active segment cut under this reader."""
        try:
            now = os.stat(self.path)
        except FileNotFoundError:
            return True
        if (now.st_dev, now.st_ino) != (self._stat.st_dev, self._stat.st_ino):
            return True
        active = self.segments[-1] if self.segments else None
        if active is None:
            return False
        try:
            return os.path.getsize(active.path) < active.data_end
        except FileNotFoundError:
            return True

    def records(self, first: int = 1, last: int | None = None) -> Iterator[StoredRecord]:
        """The records `first`..`last`, each payload fully checked (holes skipped).

        Raises CorruptLogError for a payload whose checksum is right but whose
        content is not a record, or whose offset is out of order.
        """
        stop = self.head if last is None else min(last, self.head)
        base_bytes = 0
        for segment in list(self.segments):
            if segment.last_offset >= first and segment.base_offset <= stop:
                yield from _checked(segment, first, stop, base_bytes)
            base_bytes += segment.data_end

    def same_file_as(self, path: str) -> bool:
        return not self.shrunk()


def _checked(segment: Segment, first: int, last: int, base_bytes: int) -> Iterator[StoredRecord]:
    expected = segment.base_offset
    for record, payload in raw_records(segment):
        offset = record.offset
        if segment.compacted and offset >= expected:
            expected = offset
        if offset > last:
            return
        checked = decode_payload(payload, path=segment.path, expected_offset=expected, position=0)
        expected += 1
        if offset >= first:
            yield StoredRecord(
                record=checked, position=base_bytes + SEGMENT_HEADER_BYTES, frame_bytes=len(payload)
            )
