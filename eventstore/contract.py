"""The one contract every log backend implements: EventLog (and PendingAppend).

The memory log (tests, the reference), the file log (the embedded default)
and any later backend (a NATS JetStream stream: stream sequence = offset)
offer exactly this; the app depends on nothing else of a backend.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from eventstore.records import NewRecord, Record


class PendingAppend(Protocol):
    """A batch that has its offsets and is queued for the next group commit."""

    @property
    def records(self) -> list[Record]:
        """The batch's records, with the offsets the log assigned."""
        ...

    async def wait_durable(self) -> None:
        """Return once the batch is durable under the log's fsync policy.

        Raises EventStoreError (fatal: the log refuses all further appends).
        """
        ...


class EventLog(Protocol):
    """An append-only log of records with offsets assigned densely from 1.

    The file log is the embedded default; another backend (a replicated
    stream, an in-memory log for tests) offers the same contract. A backend
    may lose old offsets on purpose: compaction leaves holes (records that a
    caller chose to drop), retention starts the log above 1. Reading an
    offset that is not there raises OffsetOutOfRangeError.
    """

    @property
    def log_id(self) -> str:
        """A random id created with the log; it changes when the log does."""
        ...

    @property
    def head(self) -> int:
        """The offset of the last record, 0 for an empty log."""
        ...

    @property
    def durable_head(self) -> int:
        """The highest offset known durable; every offset up to it is durable."""
        ...

    def append_nowait(self, records: Sequence[NewRecord]) -> PendingAppend:
        """Assign offsets and queue the batch for the next write, without waiting.

        Offsets are assigned synchronously, so a caller that decides and stages
        with no `await` in between sees a consistent order. Readers must not
        expose a record above `durable_head`. Raises EventStoreError.
        """
        ...

    async def append(self, records: Sequence[NewRecord]) -> list[Record]:
        """Append records as one batch; return them with offsets once durable.

        Raises EventStoreError (a fatal one when durability cannot be had).
        """
        ...

    def read(self, offset: int) -> Record:
        """Read one record by offset. Raises OffsetOutOfRangeError."""
        ...

    def iter_from(self, after: int = 0) -> Iterator[Record]:
        """Iterate records with offset > `after`, in order (holes skipped).

        Raises OffsetOutOfRangeError when the log no longer holds the record
        after `after` (retention).
        """
        ...

    async def close(self) -> None:
        """Flush and release the log."""
        ...
