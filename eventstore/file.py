"""The file event log: a directory of segments, one writer, group commit in rounds.

How this works
--------------
`FileEventLog.open` (an async classmethod) runs `opening.open_log` in the
log's own worker thread: lock, create or upgrade, check the seals of the
sealed segments, scan the active one, cut an unacknowledged tail.

`append_nowait` encodes the batch, assigns its offsets and adds it to the
newest staged `Round` (a new one past ROUND_TARGET_BYTES: a batch is never
split) and returns a `PendingAppend` tied to that round. The writer task
takes the oldest staged round, writes it as one format-2 round with
`pwrite` (and `fdatasync`s it under `ALWAYS`) in the worker thread (so
other `to_thread` work, like password hashing, cannot delay it), then
advances `durable_head` and wakes every waiter of the round at once.
Batches staged while a round is on disk go into the next one, so N
concurrent writers share far fewer than N fsyncs. Each round carries the
highest offset the writer knew fsynced (`durable through`), which recovery
needs (see `recovery`); at close an empty round carries the final claim.

Before a round that would take the active segment past `segment_max_bytes`
(or once it is older than `segment_max_age_s`), the writer seals it (sparse
index and trailer, fdatasync) and creates the next segment (whole or not at
all). Sealed segments never change again, except by compaction, which
replaces one with a rewritten copy by an atomic rename.

Policies: ALWAYS fsyncs every round. INTERVAL writes every round, counts a
batch as durable once written, and fsyncs at most every `fsync_interval_s`.
NONE only writes (tests and benchmarks). A failed write or fsync is fatal:
every waiting batch fails with LogFailedError, every later append is
refused, and nothing is retried (after a failed fsync the kernel may have
dropped the dirty pages, so a retry could "succeed" over lost data).

Reads: `iter_from` yields records up to `durable_head`, from the segment
holding the first one on (its index gives the round to start at), each
round's checksum checked as it is read. `read(offset)` also serves staged
records that are not written yet, from memory.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Final, Self

from eventstore import compaction, lock
from eventstore.compaction import CompactionReport
from eventstore.errors import EventStoreError, LogFailedError, OffsetOutOfRangeError
from eventstore.format import (
    DEFAULT_MAX_FRAME_BYTES,
    encode_payload,
    make_record,
    new_packer,
)
from eventstore.group_commit import Disk, FdatasyncFn, FileAppend, PwriteFn, Round
from eventstore.opening import OpenedLog, open_in_thread
from eventstore.records import FsyncPolicy, NewRecord, Record
from eventstore.segment import Segment
from eventstore.segment_codec import MAX_ROUND_BODY_BYTES, ROUND_TARGET_BYTES, encode_round
from eventstore.segment_file import mark_sealed, now_ms, seal_bytes
from eventstore.segment_set import SegmentSet
from eventstore.snapshot import DEFAULT_KEEP, SnapshotStore

_LOGGER_NAME = "eventstore"
DEFAULT_SEGMENT_MAX_BYTES: Final = 64 * 1024 * 1024
DEFAULT_SEGMENT_MAX_AGE_S: Final = 3600.0


class FileEventLog:
    """The EventLog on a local directory of segments. Open with `await FileEventLog.open(path)`.

    Also an async context manager (closing on exit).
    """

    def __init__(
        self,
        *,
        path: str,
        opened: OpenedLog,
        policy: FsyncPolicy,
        fsync_interval_s: float,
        max_frame_bytes: int,
        segment_max_bytes: int,
        segment_max_age_s: float,
        logger: logging.Logger,
        fdatasync: FdatasyncFn,
        pwrite: PwriteFn,
        executor: ThreadPoolExecutor,
    ) -> None:
        self._path = path
        self._lock_fd = opened.lock_fd
        self._log_id = opened.log_id
        self._segments = SegmentSet(opened.segments)
        self._policy = policy
        self._fsync_interval_s = fsync_interval_s
        self._max_frame_bytes = max_frame_bytes
        self._segment_max_bytes = segment_max_bytes
        self._segment_max_age_s = segment_max_age_s
        self._pack = new_packer()  # used on the event loop's thread only
        self._logger = logger
        self._disk = Disk(pwrite=pwrite, fdatasync=fdatasync)
        self._executor = executor
        self._loop = asyncio.get_running_loop()

        self._head = self._active.last_offset
        self._durable_head = self._head
        self._synced_through = self._head  # the open fsynced what it recovered
        self._claimed_through = self._head  # the highest claim a round carries
        self._queue: deque[Round] = deque()  # staged rounds the writer has not taken
        self._inflight: Round | None = None  # the round being written
        self._wakeup = asyncio.Event()
        self._unsynced = False  # written but not fsynced (INTERVAL, NONE)
        self._last_sync = time.monotonic()
        self._failure: LogFailedError | None = None
        self._closing = False
        self._close_done: asyncio.Future[None] | None = None
        self._maintenance = asyncio.Lock()  # one compaction or retention at a time
        # Told (events, seconds) after each round is written (and fsynced): metrics.
        self.round_observer: Callable[[int, float], None] | None = None
        self._writer = self._loop.create_task(self._write_loop(), name=f"eventstore-writer {path}")

    @classmethod
    async def open(
        cls,
        path: str | os.PathLike[str],
        *,
        fsync: FsyncPolicy = FsyncPolicy.ALWAYS,
        fsync_interval_s: float = 1.0,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        segment_max_bytes: int = DEFAULT_SEGMENT_MAX_BYTES,
        segment_max_age_s: float = DEFAULT_SEGMENT_MAX_AGE_S,
        logger: logging.Logger | None = None,
        fdatasync: FdatasyncFn = os.fdatasync,
        pwrite: PwriteFn = os.pwrite,
    ) -> FileEventLog:
        """Open (creating if missing, upgrading a format-1 file) and recover the log.

        Raises LogLockedError (another writer holds it), CorruptLogError,
        NotAnEventLogError, UnsupportedFormatError and OSError.
        """
        log_path = os.fspath(path)
        logger = logger or logging.getLogger(_LOGGER_NAME)
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="eventstore-writer")
        opened = await open_in_thread(
            executor, log_path, segment_max_bytes=segment_max_bytes, logger=logger
        )
        return cls(
            path=log_path,
            opened=opened,
            policy=fsync,
            fsync_interval_s=fsync_interval_s,
            max_frame_bytes=max_frame_bytes,
            segment_max_bytes=segment_max_bytes,
            segment_max_age_s=segment_max_age_s,
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
    def _active(self) -> Segment:
        return self._segments.active

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
    def first_offset(self) -> int:
        """The first offset the log still holds (above 1 once retention deleted segments)."""
        return self._segments.first_offset

    @property
    def size_bytes(self) -> int:
        """Bytes of the segment files that are written."""
        return self._segments.size_bytes

    @property
    def segments(self) -> list[Segment]:
        """The segments, oldest first; the last is the active one (do not modify)."""
        return self._segments.all()

    def append_nowait(self, records: Sequence[NewRecord]) -> FileAppend:
        """Assign offsets and stage the batch for a round.

        Raises LogFailedError after a write failure, RecordTooLargeError, and
        EventStoreError when the log is closed or a record cannot be encoded.
        The batch is all or nothing: on an error nothing is staged.
        """
        if self._failure is not None:
            raise LogFailedError(str(self._failure)) from self._failure
        if self._closing:
            raise EventStoreError(f"{self._path}: the log is closed")
        if not records:
            return FileAppend([], None)
        payloads: list[bytes] = []
        stored: list[Record] = []
        offset = self._head
        size = 0
        for record in records:
            offset += 1
            data = dict(record.data)
            payload = encode_payload(
                offset,
                record.ts,
                record.name,
                data,
                max_frame_bytes=self._max_frame_bytes,
                pack=self._pack,
            )
            size += len(payload)
            payloads.append(payload)
            stored.append(make_record(offset, record.ts, record.name, data))
        if size > MAX_ROUND_BODY_BYTES:
            raise EventStoreError(f"a batch of {size} bytes exceeds {MAX_ROUND_BODY_BYTES}")
        round_ = self._queue[-1] if self._queue else None
        if round_ is None or (round_.body_bytes + size > ROUND_TARGET_BYTES and round_.records):
            round_ = Round()
            self._queue.append(round_)
        round_.payloads += payloads
        round_.records += stored
        round_.body_bytes += size
        self._head = offset
        self._wakeup.set()
        return FileAppend(stored, round_)

    async def append(self, records: Sequence[NewRecord]) -> list[Record]:
        """Append one batch and wait until it is durable. Raises EventStoreError."""
        pending = self.append_nowait(records)
        await pending.wait_durable()
        return pending.records

    def read(self, offset: int) -> Record:
        """Read one record. Raises OffsetOutOfRangeError, CorruptLogError, EventStoreError."""
        if not self.first_offset <= offset <= self._head:
            raise OffsetOutOfRangeError(offset, self._head)
        if offset > self._durable_head:
            if self._failure is None:
                for round_ in (self._inflight, *self._queue):
                    if round_ is not None and round_.holds(offset):
                        return round_.records[offset - round_.records[0].offset]
            raise OffsetOutOfRangeError(offset, self._durable_head)  # lost in a failed round
        return self._segments.read(offset, self._head)

    def payload_checksum(self, offset: int) -> int | None:
        """The crc32 of the stored payload at `offset`; None when the log does not hold it.

        Safe from a worker thread (a snapshot writer). Raises CorruptLogError
        and EventStoreError (closed).
        """
        return self._segments.payload_checksum(offset, self._durable_head)

    def iter_from(self, after: int = 0) -> Iterator[Record]:
        """Iterate the durable records with offset > `after`, in order (holes skipped).

        The end is fixed when this is called: records that become durable
        later are not included. Raises OffsetOutOfRangeError (at once) when
        retention deleted records after `after`, CorruptLogError, and
        EventStoreError when the log is closed while iterating.
        """
        first = max(after, 0) + 1
        last = self._durable_head
        if first < self.first_offset:
            raise OffsetOutOfRangeError(first, self._head)
        if first > last:
            return iter(())
        return self._segments.iter_from(first, last)

    async def compact(
        self, below: int, drop: Callable[[Record], bool], *, recompact: bool = True
    ) -> CompactionReport:
        """Rewrite the sealed segments wholly below `below` without the records `drop` selects.

        Offsets of the kept records do not change. `drop` runs in a worker
        thread. With `recompact` false, segments compacted before are left
        alone. Crash-safe at every point (see `compaction`). Raises
        CorruptLogError, EventStoreError (closed), OSError and what `drop` raises.
        """
        async with self._maintenance:
            return await compaction.compact(
                self._segments,
                below,
                drop,
                logger=self._logger,
                check_open=self._check_open,
                recompact=recompact,
            )

    async def delete_segments_below(self, offset: int) -> list[str]:
        """Retention: delete the sealed segments wholly below `offset`; return their paths.

        The caller vouches that a snapshot covers them. Reading before the
        new `first_offset` then raises OffsetOutOfRangeError. Raises
        EventStoreError (closed) and OSError.
        """
        async with self._maintenance:
            return await compaction.delete_below(
                self._segments, offset, logger=self._logger, check_open=self._check_open
            )

    def _check_open(self) -> None:
        if self._closing:
            raise EventStoreError(f"{self._path}: the log is closed")

    def snapshot_store(self, *, keep: int = DEFAULT_KEEP) -> SnapshotStore:
        """The snapshots of this log (in ``<log>/snapshots/``), verified against it."""
        return SnapshotStore(self._path, self, keep=keep, logger=self._logger)

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
            # A compaction or retention step in a worker thread reads segments:
            # let it finish before their descriptors close (the next step sees
            # `_closing` and stops).
            async with self._maintenance:
                pass
            try:
                # Shielded: a cancelled close must not cancel a round half-way.
                await asyncio.shield(self._writer)
            except asyncio.CancelledError:
                if not self._writer.cancelled():
                    raise  # this close was cancelled
                # The writer was cancelled before (at loop teardown, say): it
                # has failed the log already; close the rest all the same.
            if self._failure is None:
                try:
                    await self._loop.run_in_executor(self._executor, self._final_claim)
                except Exception as exc:
                    self._fail(exc)
                    raise LogFailedError(str(self._failure)) from exc
        finally:
            # Wait for the worker thread before closing the descriptors: their
            # numbers could otherwise be reused while a write is still going.
            self._executor.shutdown(wait=True)
            self._segments.close()
            lock.release(self._lock_fd)
            self._logger.info(
                "log.closed path=%s head=%d durable_head=%d failed=%s",
                self._path,
                self._head,
                self._durable_head,
                self._failure is not None,
            )

    def _final_claim(self) -> None:
        """In the worker thread: fsync what is written, then claim it durable in an empty round."""
        active = self._active
        if self._unsynced:
            self._disk.fdatasync(active.fd)
            self._unsynced = False
        if self._durable_head > self._claimed_through:
            claim = encode_round(
                b"",
                count=0,
                first_offset=self._durable_head + 1,
                durable_through=self._durable_head,
            )
            self._disk.write_at(active.fd, claim, active.data_end, True, 0)
            active.data_end += len(claim)
            self._claimed_through = self._durable_head

    async def _write_loop(self) -> None:
        try:
            while self._failure is None:
                if not self._queue:
                    if self._closing:
                        return
                    await self._idle()
                    continue
                await self._write_round(self._queue.popleft())
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
        written = self._durable_head
        try:
            await self._loop.run_in_executor(self._executor, self._disk.fdatasync, self._active.fd)
        except Exception as exc:  # an fsync error, or a bug: fatal either way
            self._fail(exc)
            return
        self._unsynced = False
        self._synced_through = written
        self._last_sync = time.monotonic()

    def _roll_due(self, round_bytes: int) -> bool:
        active = self._active
        if not active.records:
            return False
        too_big = active.data_end + round_bytes > self._segment_max_bytes
        too_old = now_ms() - active.header.created_ms >= self._segment_max_age_s * 1000
        return too_big or too_old

    async def _write_round(self, round_: Round) -> None:
        started = time.monotonic()
        self._inflight = round_
        records = round_.records
        first, last = records[0].offset, records[-1].offset
        data = encode_round(
            b"".join(round_.payloads),
            count=len(records),
            first_offset=first,
            durable_through=self._synced_through,
        )
        sync = self._policy is FsyncPolicy.ALWAYS
        try:
            if self._roll_due(len(data)):
                active = self._active
                seal = seal_bytes(active)
                new = await self._loop.run_in_executor(
                    self._executor, self._disk.seal_and_roll, active, seal, self._path
                )
                mark_sealed(active, seal)
                self._segments.add(new)
                self._synced_through = self._claimed_through = active.last_offset
                self._unsynced = False
            active = self._active
            crc = await self._loop.run_in_executor(
                self._executor,
                self._disk.write_at,
                active.fd,
                data,
                active.data_end,
                sync,
                active.data_crc,
            )
        except Exception as exc:  # a write or fsync error, or a bug: fatal either way
            self._fail(exc, round_)
            return
        except asyncio.CancelledError:
            self._fail(EventStoreError("the writer task was cancelled"), round_)
            raise
        active.index_offsets.append(first)
        active.index_positions.append(active.data_end)
        active.data_end += len(data)
        active.data_crc = crc
        active.last_offset = last
        active.records += len(records)
        self._claimed_through = max(self._claimed_through, self._synced_through)
        self._durable_head = last
        self._inflight = None
        self._unsynced = not sync
        if sync:
            self._synced_through = last
        round_.finish()
        if self.round_observer is not None:
            self.round_observer(len(records), time.monotonic() - started)
        # INTERVAL under steady load (never idle): the due fsync comes after
        # the round is acknowledged, which is all INTERVAL promises.
        due = time.monotonic() - self._last_sync >= self._fsync_interval_s
        if self._policy is FsyncPolicy.INTERVAL and due:
            await self._sync_written()
        elif sync:
            self._last_sync = time.monotonic()

    def _fail(self, exc: BaseException, *rounds: Round) -> None:
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
        for round_ in (*rounds, *self._queue):
            round_.finish(self._failure)
