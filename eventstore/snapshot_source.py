"""A read-only view of a live log, for a snapshot taken in another process.

How this works: the view opens the segments as `chat-log` does (no writer
lock, nothing written: sealed segments by their seals, the active one by
scanning its rounds) and serves the records up to a given offset with the
same index-guided reads as the writer's log, so folding a tail costs what it
costs the server. The caller passes an offset the writer had made durable
before the view was opened: everything up to it is whole rounds on disk
(or in the page cache). A round the writer is in the middle of writing
shows as a problem after that offset and is not served. Segments that the
writer compacts, rolls or deletes meanwhile stay readable through the
descriptors the view holds.
"""

from __future__ import annotations

from collections.abc import Iterator

from eventstore.errors import EventStoreError, OffsetOutOfRangeError
from eventstore.reader import ClosingReader
from eventstore.records import Record
from eventstore.segment_reader import SegmentLogReader
from eventstore.segment_set import SegmentSet
from eventstore.snapshot import DEFAULT_KEEP, SnapshotStore


class ReadOnlyLog(ClosingReader):
    """The records of a log directory up to `upto`, read without the writer lock.

    Use as a context manager. Raises OSError, NotAnEventLogError,
    UnsupportedFormatError, and EventStoreError when the log does not hold
    every offset up to `upto` (it was cut back, or `upto` is past its end).
    """

    def __init__(self, path: str, *, upto: int) -> None:
        self.path = path
        self._reader = reader = SegmentLogReader(path)
        try:
            reader.scan()
        except BaseException:
            reader.close()
            raise
        if (head := reader.head) < upto:
            reader.close()
            why = "" if reader.problem is None else f" ({reader.problem.reason})"
            raise EventStoreError(f"{path}: the log ends at {head}, not at {upto}{why}")
        self._upto = upto
        self._segments = SegmentSet(self._reader.segments)

    def close(self) -> None:
        self._reader.close()

    @property
    def log_id(self) -> str:
        return self._reader.log_id

    @property
    def durable_head(self) -> int:
        """The offset the view ends at (`upto`)."""
        return self._upto

    @property
    def first_offset(self) -> int:
        return self._reader.first_offset

    def payload_checksum(self, offset: int) -> int | None:
        """The crc32 of the stored payload at `offset`; None when the view does not hold it."""
        return self._segments.payload_checksum(offset, self._upto)

    def read(self, offset: int) -> Record:
        """The record at `offset`. Raises OffsetOutOfRangeError, CorruptLogError."""
        if not self.first_offset <= offset <= self._upto:
            raise OffsetOutOfRangeError(offset, self._upto)
        return self._segments.read(offset, self._upto)

    def iter_from(self, after: int) -> Iterator[Record]:
        """The records with after < offset <= `upto`, in order (holes skipped).

        Raises EventStoreError when the records after `after` were deleted
        (retention), and CorruptLogError while iterating.
        """
        first = max(after, 0) + 1
        if first < self.first_offset:
            raise EventStoreError(f"{self.path}: the log starts at {self.first_offset}")
        if first > self._upto:
            return iter(())
        return self._segments.iter_from(first, self._upto)

    def snapshot_store(self, *, keep: int = DEFAULT_KEEP) -> SnapshotStore:
        """The log's snapshots, verified against this view."""
        return SnapshotStore(self.path, self, keep=keep)
