"""Group commit rounds of the file log: the batches staged for one write, and their waiters."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Callable

from eventstore.errors import LogFailedError, LogUnavailableError
from eventstore.records import Record
from eventstore.segment import Segment
from eventstore.segment_file import create_segment


class Round:
    """One group commit: the batches staged for one write, and who waits on them.

    Each waiter gets a future of its own, so a cancelled waiter cancels only
    itself (cheaper than `asyncio.shield` on a shared future, which matters
    at tens of thousands of appends a second).
    """

    __slots__ = ("body_bytes", "error", "finished", "payloads", "records", "waiters")

    def __init__(self) -> None:
        self.finished = False
        self.error: LogFailedError | None = None
        self.waiters: list[asyncio.Future[None]] = []
        self.payloads: list[bytes] = []
        self.records: list[Record] = []
        self.body_bytes = 0

    def finish(self, error: LogFailedError | None = None) -> None:
        if self.finished:
            return
        self.finished = True
        self.error = error
        for waiter in self.waiters:
            if waiter.done():
                continue  # its task was cancelled
            if error is None:
                waiter.set_result(None)
            else:
                failure = LogFailedError(str(error))
                failure.__cause__ = error  # keeps why (`fenced_out`)
                waiter.set_exception(failure)
                waiter.exception()  # a waiter cancelled from now on must not log it
        self.waiters = []

    def holds(self, offset: int) -> bool:
        records = self.records
        return bool(records) and records[0].offset <= offset <= records[-1].offset


class FileAppend:
    """A staged batch of a log that writes rounds (file, JetStream); durable when its round is.

    With `timeout_s`, a waiter gives up after that long with LogUnavailableError
    (a remote store that does not answer; the round may still be written).
    """

    __slots__ = ("_records", "_round", "_timeout_s")

    def __init__(
        self, records: list[Record], round_: Round | None, timeout_s: float | None = None
    ) -> None:
        self._records = records
        self._round = round_
        self._timeout_s = timeout_s

    @property
    def records(self) -> list[Record]:
        return self._records

    async def wait_durable(self) -> None:
        """Return once the batch is durable. Raises LogFailedError, LogUnavailableError."""
        round_ = self._round
        if round_ is None:
            return
        if not round_.finished:
            waiter = asyncio.get_running_loop().create_future()
            round_.waiters.append(waiter)
            try:
                async with asyncio.timeout(self._timeout_s):
                    await waiter
            except TimeoutError:
                raise LogUnavailableError(
                    f"the round was not acknowledged within {self._timeout_s:g} s",
                    retry_after_s=1.0,
                ) from None
        elif round_.error is not None:
            raise LogFailedError(str(round_.error)) from round_.error


# Injectable for tests: a disk that fails on demand, without a mock library.
FdatasyncFn = Callable[[int], None]
PwriteFn = Callable[[int, bytes | memoryview, int], int]


class Disk:
    """The writer's calls to the disk, made in its worker thread (injectable for tests)."""

    def __init__(self, *, pwrite: PwriteFn, fdatasync: FdatasyncFn) -> None:
        self._pwrite = pwrite
        self.fdatasync = fdatasync

    def write_at(self, fd: int, data: bytes, position: int, sync: bool, crc: int) -> int:
        """Write all of `data` at `position`, maybe fdatasync; return crc32(data, `crc`).

        Raises OSError (and whatever the injected calls raise).
        """
        view = memoryview(data)
        while view:
            written = self._pwrite(fd, view, position)
            if written <= 0:
                raise OSError(f"pwrite wrote {written} bytes at position {position}")
            view = view[written:]
            position += written
        if sync:
            self.fdatasync(fd)
        return zlib.crc32(data, crc)

    def seal_and_roll(self, active: Segment, seal: bytes, directory: str) -> Segment:
        """Write the seal of `active` (fdatasync) and create the next segment. Raises OSError."""
        self.write_at(active.fd, seal, active.data_end, True, 0)
        return create_segment(directory, active.header.log_id, active.last_offset + 1)
