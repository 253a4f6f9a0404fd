"""An in-memory event log with the same contract as the file log.

For unit tests of the layers above and as the reference the contract tests
compare the file log against.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence

from eventstore.errors import EventStoreError, OffsetOutOfRangeError
from eventstore.records import NewRecord, Record


class _DoneAppend:
    """A batch of the memory log: durable as soon as it is staged."""

    def __init__(self, records: list[Record]) -> None:
        self._records = records

    @property
    def records(self) -> list[Record]:
        return self._records

    async def wait_durable(self) -> None:
        return None


class MemoryEventLog:
    """A log that lives in a list; appends are 'durable' at once."""

    def __init__(self, log_id: str | None = None) -> None:
        self._log_id = log_id or secrets.token_hex(16)
        self._records: list[Record] = []
        self._closed = False

    @property
    def log_id(self) -> str:
        return self._log_id

    @property
    def head(self) -> int:
        return len(self._records)

    @property
    def durable_head(self) -> int:
        return len(self._records)

    def append_nowait(self, records: Sequence[NewRecord]) -> _DoneAppend:
        if self._closed:
            raise EventStoreError("the log is closed")
        stored = [
            Record(offset=self.head + i, ts=r.ts, name=r.name, data=dict(r.data))
            for i, r in enumerate(records, start=1)
        ]
        self._records.extend(stored)
        return _DoneAppend(stored)

    async def append(self, records: Sequence[NewRecord]) -> list[Record]:
        pending = self.append_nowait(records)
        await pending.wait_durable()
        return pending.records

    def read(self, offset: int) -> Record:
        if not 1 <= offset <= self.head:
            raise OffsetOutOfRangeError(offset, self.head)
        return self._records[offset - 1]

    def iter_from(self, after: int = 0) -> Iterator[Record]:
        yield from self._records[max(after, 0) :]

    async def close(self) -> None:
        self._closed = True

    def reopen(self) -> MemoryEventLog:
        """A new log over the same records, as if the file were opened again."""
        log = MemoryEventLog(self._log_id)
        log._records = list(self._records)
        return log
