"""A read-only view of a log file for the offline tools.

It never takes the writer lock and never writes, so `chat-log` can inspect
(and follow) the log of a running server. A torn tail is reported, not cut:
on a live log it is usually a frame the server is writing right now.
"""

from __future__ import annotations

import os
from array import array
from collections.abc import Iterator
from types import TracebackType
from typing import Self

from attrs import frozen

from eventstore.fileio import fd_reader
from eventstore.format import (
    DEFAULT_MAX_FRAME_BYTES,
    FRAME_HEADER_BYTES,
    HEADER_BYTES,
    decode_payload,
    iter_blocks,
)
from eventstore.legacy import Problem, Progress, ScanResult, scan_frames, scan_log
from eventstore.records import Record


@frozen(kw_only=True)
class StoredRecord:
    """A record with where its frame sits in the file."""

    record: Record
    position: int
    frame_bytes: int


class ClosingReader:
    """A reader is a context manager that closes on exit."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class LogReader(ClosingReader):
    """Read-only access to a log file: scan, then iterate fully checked records.

    Use as a context manager. Raises OSError, NotAnEventLogError and
    UnsupportedFormatError from `scan`.
    """

    def __init__(self, path: str, *, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        self.path = path
        self.max_frame_bytes = max_frame_bytes
        self._fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        self._pread = fd_reader(self._fd)
        self.index: array[int] = array("Q")
        self.end = HEADER_BYTES
        self.file_size = 0
        self.log_id = ""
        self.problem: Problem | None = None

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    @property
    def head(self) -> int:
        return len(self.index)

    @property
    def first_offset(self) -> int:
        return 1

    def scan(self, progress: Progress | None = None, *, full: bool = False) -> ScanResult:
        """Scan the whole file (header, frames, checksums, offsets); `full` changes nothing."""
        self.file_size = os.fstat(self._fd).st_size
        result = scan_log(
            self._pread,
            file_size=self.file_size,
            path=self.path,
            max_frame_bytes=self.max_frame_bytes,
            progress=progress,
        )
        self.index, self.end, self.log_id, self.problem = (
            result.index,
            result.end,
            result.log_id,
            result.problem,
        )
        return result

    def refresh(self) -> int:
        """Pick up frames appended since the last scan; return how many are new.

        A partly written last frame is left for the next call; `problem` says
        what stopped the scan.
        """
        before = self.head
        self.file_size = os.fstat(self._fd).st_size
        self.end, self.problem = scan_frames(
            self._pread,
            self.index,
            start=self.end,
            file_size=self.file_size,
            max_frame_bytes=self.max_frame_bytes,
        )
        return self.head - before

    def same_file_as(self, path: str) -> bool:
        """Whether `path` still names the file this reader has open (not replaced)."""
        try:
            named = os.stat(path)
        except FileNotFoundError:
            return False
        mine = os.fstat(self._fd)
        return (named.st_dev, named.st_ino) == (mine.st_dev, mine.st_ino)

    def shrunk(self) -> bool:
        """Whether the file was replaced or cut under this reader."""
        return not self.same_file_as(self.path) or os.path.getsize(self.path) < self.end

    def records(self, first: int = 1, last: int | None = None) -> Iterator[StoredRecord]:
        """The scanned records `first`..`last`, each payload fully checked.

        Raises CorruptLogError for a payload whose checksum is right but
        whose content is not a record.
        """
        stop = self.head if last is None else min(last, self.head)
        start = max(first, 1)
        if start > stop:
            return
        index = self.index
        blocks = iter_blocks(
            self._pread, index, first=start, last=stop, end_position=self.end, path=self.path
        )
        for block_first, block_last, block in blocks:
            base = index[block_first - 1]
            for offset in range(block_first, block_last + 1):
                position = index[offset - 1]
                end = index[offset] if offset < len(index) else self.end
                payload = block[position - base + FRAME_HEADER_BYTES : end - base]
                record = decode_payload(
                    payload, path=self.path, expected_offset=offset, position=position
                )
                yield StoredRecord(record=record, position=position, frame_bytes=end - position)
