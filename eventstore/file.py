"""The file event log: one append-only file, one writer, group commit.

How this works
--------------
`FileEventLog.open` (an async classmethod) takes the writer lock, scans the
file (see `opening`), cuts a torn tail, and starts one writer task.

`append_nowait` encodes the batch, assigns its offsets, appends the frames to
an in-memory buffer and returns a `PendingAppend` tied to the *next round*.
The writer task loops: it takes everything buffered, writes it with `pwrite`
(and `fdatasync`s it under the `ALWAYS` policy) in a worker thread of the
log's own (so other `to_thread` work, like password hashing, cannot delay it),
then advances `durable_head` and finishes that round, waking every waiter of
it at once. Batches staged while a round is on disk go into the next round,
so N concurrent writers share far fewer than N fsyncs.

Policies: ALWAYS fsyncs every round. INTERVAL writes every round, counts a
batch as durable once written, and fsyncs at most every `fsync_interval_s`
(after acknowledging the round that made it due, or when idle). NONE only
writes (tests and benchmarks). A failed write or fsync is fatal: every
waiting batch fails with LogFailedError, every later append is refused, and
nothing is retried (after a failed fsync the kernel may have dropped the
dirty pages, so a retry could "succeed" over lost data).

Replay: the server calls `iter_from(0)` after `open` and counts records
itself for progress; the scan at open logs its own duration (`log.opened`).

Reads: `iter_from` yields records up to `durable_head` (as the contract asks
of readers), decoded from blocks (64 KiB growing to 1 MiB) read with `pread`,
which never moves a file position. `read(offset)` also serves staged records
that are not written yet, from memory, so a caller can read back what it
staged.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Self

from eventstore import lock
from eventstore.errors import (
    CorruptLogError,
    EventStoreError,
    LogFailedError,
    OffsetOutOfRangeError,
)
from eventstore.format import (
    DEFAULT_MAX_FRAME_BYTES,
    FRAME_HEADER,
    FRAME_HEADER_BYTES,
    decode_payload,
    encode_frame,
    frame_checksum,
    iter_decoded,
    make_record,
    new_packer,
    read_exact,
)
from eventstore.opening import OpenedFile, open_file, release_abandoned
from eventstore.records import FsyncPolicy, NewRecord, Record

# Injectable for tests: a disk that fails on demand, without a mock library.
FdatasyncFn = Callable[[int], None]
PwriteFn = Callable[[int, bytes | memoryview, int], int]

_LOGGER_NAME = "eventstore"


class _Round:
    """One group commit: the batches staged between two writes, and who waits on them.

    Each waiter gets a future of its own, so a cancelled waiter cancels only
    itself (cheaper than `asyncio.shield` on a shared future, which matters
    at tens of thousands of appends a second).
    """

    __slots__ = ("error", "finished", "waiters")

    def __init__(self) -> None:
        self.finished = False
        self.error: LogFailedError | None = None
        self.waiters: list[asyncio.Future[None]] = []

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
                waiter.set_exception(LogFailedError(str(error)))
                waiter.exception()  # a waiter cancelled from now on must not log it
        self.waiters = []


class _FileAppend:
    """A staged batch of the file log; durable when its round is."""

    __slots__ = ("_records", "_round")

    def __init__(self, records: list[Record], round_: _Round | None) -> None:
        self._records = records
        self._round = round_

    @property
    def records(self) -> list[Record]:
        return self._records

    async def wait_durable(self) -> None:
        """Return once the batch is durable. Raises LogFailedError."""
        round_ = self._round
        if round_ is None:
            return
        if not round_.finished:
            waiter = asyncio.get_running_loop().create_future()
            round_.waiters.append(waiter)
            await waiter
        elif round_.error is not None:
            raise LogFailedError(str(round_.error)) from round_.error


class FileEventLog:
    """The EventLog on one local file. Open with `await FileEventLog.open(path)`.

    Also an async context manager (closing on exit).
    """

    def __init__(
        self,
        *,
        path: str,
        opened: OpenedFile,
        policy: FsyncPolicy,
        fsync_interval_s: float,
        max_frame_bytes: int,
        logger: logging.Logger,
        fdatasync: FdatasyncFn,
        pwrite: PwriteFn,
        executor: ThreadPoolExecutor,
    ) -> None:
        self._path = path
        self._fd = opened.fd
        self._lock_fd = opened.lock_fd
        self._log_id = opened.log_id
        self._index = opened.index
        self._policy = policy
        self._fsync_interval_s = fsync_interval_s
        self._max_frame_bytes = max_frame_bytes
        self._pack = new_packer()  # used on the event loop's thread only
        self._logger = logger
        self._fdatasync = fdatasync
        self._pwrite = pwrite
        self._executor = executor
        self._loop = asyncio.get_running_loop()

        self._head = len(opened.index)
        self._durable_head = self._head
        self._written_end = opened.end  # the file position after the last written frame
        self._staged_end = opened.end  # ... after the last staged frame
        self._buffer = bytearray()  # staged frames the writer has not taken yet
        self._staged: list[Record] = []  # their records (for `read`)
        self._inflight: list[Record] = []  # the records of the round being written
        self._round = _Round()
        self._wakeup = asyncio.Event()
        self._unsynced = False  # written but not fsynced (INTERVAL, NONE)
        self._last_sync = time.monotonic()
        self._failure: LogFailedError | None = None
        self._closing = False
        self._close_done: asyncio.Future[None] | None = None
        self._fd_open = True
        self._writer = self._loop.create_task(self._write_loop(), name=f"eventstore-writer {path}")

    @classmethod
    async def open(
        cls,
        path: str | os.PathLike[str],
        *,
        fsync: FsyncPolicy = FsyncPolicy.ALWAYS,
        fsync_interval_s: float = 1.0,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        logger: logging.Logger | None = None,
        fdatasync: FdatasyncFn = os.fdatasync,
        pwrite: PwriteFn = os.pwrite,
    ) -> FileEventLog:
        """Open (creating if missing) and recover the log; start its writer.

        Raises LogLockedError (another writer holds it), CorruptLogError,
        NotAnEventLogError, UnsupportedFormatError and OSError.
        """
        log_path = os.fspath(path)
        logger = logger or logging.getLogger(_LOGGER_NAME)
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="eventstore-writer")
        opening = asyncio.get_running_loop().run_in_executor(
            executor, open_file, log_path, max_frame_bytes, logger
        )
        try:
            opened = await asyncio.shield(opening)
        except asyncio.CancelledError:
            # The thread goes on opening: release what it takes once it is done.
            opening.add_done_callback(release_abandoned)
            executor.shutdown(wait=False)
            raise
        except BaseException:
            executor.shutdown(wait=True)
            raise
        return cls(
            path=log_path,
            opened=opened,
            policy=fsync,
            fsync_interval_s=fsync_interval_s,
            max_frame_bytes=max_frame_bytes,
            logger=logger,
            fdatasync=fdatasync,
            pwrite=pwrite,
            executor=executor,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def path(self) -> str:
        return self._path

    @property
    def log_id(self) -> str:
        return self._log_id

    @property
    def head(self) -> int:
        return self._head

    @property
    def durable_head(self) -> int:
        return self._durable_head

    @property
    def size_bytes(self) -> int:
        """Bytes of the log file that are written (header included)."""
        return self._written_end

    def append_nowait(self, records: Sequence[NewRecord]) -> _FileAppend:
        """Assign offsets and stage the batch for the next round.

        Raises LogFailedError after a write failure, RecordTooLargeError, and
        EventStoreError when the log is closed or a record cannot be encoded.
        The batch is all or nothing: on an error nothing is staged.
        """
        if self._failure is not None:
            raise LogFailedError(str(self._failure)) from self._failure
        if self._closing:
            raise EventStoreError(f"{self._path}: the log is closed")
        if not records:
            return _FileAppend([], None)
        frames: list[bytes] = []
        stored: list[Record] = []
        offset = self._head
        for record in records:
            offset += 1
            data = dict(record.data)
            frames.append(
                encode_frame(
                    offset,
                    record.ts,
                    record.name,
                    data,
                    max_frame_bytes=self._max_frame_bytes,
                    pack=self._pack,
                )
            )
            stored.append(make_record(offset, record.ts, record.name, data))
        position = self._staged_end
        add = self._index.append
        for frame in frames:
            add(position)
            position += len(frame)
        self._staged_end = position
        self._buffer += b"".join(frames)
        self._staged += stored
        self._head = offset
        self._wakeup.set()
        return _FileAppend(stored, self._round)

    async def append(self, records: Sequence[NewRecord]) -> list[Record]:
        """Append one batch and wait until it is durable. Raises EventStoreError."""
        pending = self.append_nowait(records)
        await pending.wait_durable()
        return pending.records

    def read(self, offset: int) -> Record:
        """Read one record. Raises OffsetOutOfRangeError, CorruptLogError, EventStoreError."""
        if not 1 <= offset <= self._head:
            raise OffsetOutOfRangeError(offset, self._head)
        if offset > self._durable_head:
            in_memory = () if self._failure is not None else (self._inflight, self._staged)
            for records in in_memory:
                if records and records[0].offset <= offset <= records[-1].offset:
                    return records[offset - records[0].offset]
            raise OffsetOutOfRangeError(offset, self._durable_head)  # lost in a failed round
        start = self._index[offset - 1]
        end = self._index[offset] if offset < len(self._index) else self._written_end
        frame = read_exact(self._checked_pread, end - start, start, path=self._path)
        length, crc = FRAME_HEADER.unpack_from(frame)
        payload = frame[FRAME_HEADER_BYTES:]
        if length != len(payload) or frame_checksum(frame, payload) != crc:
            raise CorruptLogError(
                self._path, offset=offset, position=start, reason="checksum mismatch on read"
            )
        return decode_payload(payload, path=self._path, expected_offset=offset, position=start)

    def iter_from(self, after: int = 0) -> Iterator[Record]:
        """Iterate the durable records with offset > `after`, in order.

        The end is fixed when this is called: records that become durable
        later are not included. Raises CorruptLogError, and EventStoreError
        when the log is closed while iterating.
        """
        first = max(after, 0) + 1
        last = self._durable_head
        if first > last:
            return iter(())
        return iter_decoded(
            self._checked_pread,
            self._index,
            first=first,
            last=last,
            end_position=self._written_end,
            path=self._path,
        )

    async def close(self) -> None:
        """Write and fsync everything staged, stop the writer, release the lock.

        Safe to call more than once and from several tasks at once (they all
        wait for the one close). Raises LogFailedError when the final fsync
        fails.
        """
        if self._close_done is not None:
            await asyncio.shield(self._close_done)
            return
        self._close_done = self._loop.create_future()
        try:
            await self._close()
        finally:
            self._close_done.set_result(None)

    async def _close(self) -> None:
        self._closing = True
        self._wakeup.set()
        try:
            try:
                # Shielded: a cancelled close must not cancel a round half-way.
                await asyncio.shield(self._writer)
            except asyncio.CancelledError:
                if not self._writer.cancelled():
                    raise  # this close was cancelled
                # The writer was cancelled before (at loop teardown, say): it
                # has failed the log already; close the rest all the same.
            if self._failure is None and self._unsynced:
                try:
                    await self._loop.run_in_executor(self._executor, self._fdatasync, self._fd)
                except Exception as exc:
                    self._fail(exc)
                    raise LogFailedError(str(self._failure)) from exc
                self._unsynced = False
        finally:
            self._fd_open = False
            # Wait for the worker thread before closing the descriptor: its
            # number could otherwise be reused while a write is still going.
            self._executor.shutdown(wait=True)
            os.close(self._fd)
            lock.release(self._lock_fd)
            self._logger.info(
                "log.closed path=%s head=%d durable_head=%d failed=%s",
                self._path,
                self._head,
                self._durable_head,
                self._failure is not None,
            )

    def _checked_pread(self, size: int, position: int) -> bytes:
        # A closed descriptor number may already belong to another file: never read it.
        if not self._fd_open:
            raise EventStoreError(f"{self._path}: the log is closed")
        return os.pread(self._fd, size, position)

    async def _write_loop(self) -> None:
        try:
            while self._failure is None:
                if not self._buffer:
                    if self._closing:
                        return
                    await self._idle()
                    continue
                await self._write_round()
        except asyncio.CancelledError:
            self._fail(EventStoreError("the writer task was cancelled"))
            raise

    async def _idle(self) -> None:
        """Wait for staged data; under INTERVAL, fsync what is written when due."""
        timeout_s: float | None = None
        if self._unsynced and self._policy is FsyncPolicy.INTERVAL:
            timeout_s = max(0.0, self._last_sync + self._fsync_interval_s - time.monotonic())
        try:
            async with asyncio.timeout(timeout_s):
                await self._wakeup.wait()
        except TimeoutError:
            await self._sync_written()
        self._wakeup.clear()

    async def _sync_written(self) -> None:
        """fdatasync what is written (INTERVAL); a failure is fatal."""
        try:
            await self._loop.run_in_executor(self._executor, self._fdatasync, self._fd)
        except Exception as exc:  # an fsync error, or a bug: fatal either way
            self._fail(exc)
            return
        self._unsynced = False
        self._last_sync = time.monotonic()

    async def _write_round(self) -> None:
        data = bytes(self._buffer)
        self._buffer.clear()
        round_ = self._round
        self._round = _Round()
        self._inflight, self._staged = self._staged, []
        last = self._inflight[-1].offset
        sync = self._policy is FsyncPolicy.ALWAYS
        try:
            await self._loop.run_in_executor(
                self._executor, self._write_at, data, self._written_end, sync
            )
        except Exception as exc:  # a write or fsync error, or a bug: fatal either way
            self._fail(exc, round_)
            return
        except asyncio.CancelledError:
            self._fail(EventStoreError("the writer task was cancelled"), round_)
            raise
        self._written_end += len(data)
        self._durable_head = last
        self._inflight = []
        self._unsynced = not sync
        round_.finish()
        # INTERVAL under steady load (never idle): the due fsync comes after
        # the round is acknowledged, which is all INTERVAL promises.
        due = time.monotonic() - self._last_sync >= self._fsync_interval_s
        if self._policy is FsyncPolicy.INTERVAL and due:
            await self._sync_written()
        elif sync:
            self._last_sync = time.monotonic()

    def _write_at(self, data: bytes, position: int, sync: bool) -> None:
        """In the worker thread: write all of `data` at `position`, then maybe fdatasync."""
        view = memoryview(data)
        while view:
            written = self._pwrite(self._fd, view, position)
            if written <= 0:
                raise OSError(f"pwrite wrote {written} bytes at position {position}")
            view = view[written:]
            position += written
        if sync:
            self._fdatasync(self._fd)

    def _fail(self, exc: BaseException, *rounds: _Round) -> None:
        if self._failure is None:
            self._failure = LogFailedError(
                f"{self._path}: a write or fsync failed ({exc}); the log refuses all "
                "further appends; restart the server once the disk is healthy"
            )
            self._failure.__cause__ = exc
            self._logger.error(
                "log.failed path=%s durable_head=%d head=%d error=%r",
                self._path,
                self._durable_head,
                self._head,
                exc,
            )
        for round_ in (*rounds, self._round):
            round_.finish(self._failure)
