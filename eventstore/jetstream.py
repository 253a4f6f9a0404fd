"""The JetStream event log: a NATS JetStream stream shared by several replicas, one writer.

How this works
--------------
The stream has one subject, `<stream>.log`; its messages are rounds
(`jetstream_rounds`). Sequence 1 is the genesis, which holds the log id: the
replica that publishes it first (expecting last sequence 0) creates the log,
the others read it, so every replica reports the same log id and a reset
stream (a new genesis) is a new log id.

Every replica reads the stream from where it starts (`start`: the
beginning, or the round after a snapshot of its own) to its head as it was
then, in batches, and from there follows it with an ordered consumer
(`_on_message`). Rounds another writer publishes advance `head` and `durable_head`
together and are handed to the callback given to `follow` in the same step,
so a replica's read model moves with its log.

A replica holds only a window of the newest rounds, bounded in bytes
(`window_bytes`; `jetstream_rounds.RoundWindow`); `read` and `iter_from`
serve older offsets only after `load` has fetched their rounds from the
stream (`jetstream_reads`, one batched direct get at a time, each under a
deadline), and raise NotLoadedError otherwise. Offsets the stream no longer
holds (a stream with retention limits) raise OffsetOutOfRangeError, as on
the file log after retention.

One replica at a time is the writer; a lease outside this class decides
which (`jetstream_lease`). `become_writer` catches up, then publishes an
empty *fence* round expecting the last sequence it has seen: from then on a
former writer's publish, which expects an older sequence, is refused. The
writer's `append_nowait` assigns offsets synchronously and stages the batch
in the newest round; `jetstream_publisher` publishes the rounds in order. A
round is durable once JetStream acknowledges it: with `sync_interval:
always` on the servers that means fsynced on a quorum (`check_durability`).

Failures: a refused expectation means another writer fenced this one while
it had rounds staged (its caller applied them already): this log object is
done, every waiter gets LogFailedError (caused by WriterFencedError), and
`on_failure` is told at once; the replica then rebuilds from the stream as
a follower (`transport.serve`), since what it staged is in its model but not
in the stream. Losing NATS is
not fatal: the publisher retries the same round until NATS is back; appends
are refused meanwhile with LogUnavailableError, and a waiter gives up after
`append_timeout_s` with the same error (its round may still be published
later, so callers retry idempotently).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from collections.abc import Callable, Iterator, Sequence
from typing import Final

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext

from eventstore import lock
from eventstore.errors import (
    EventStoreError,
    LogFailedError,
    LogUnavailableError,
    NotWriterError,
    OffsetOutOfRangeError,
)
from eventstore.group_commit import FileAppend, Round
from eventstore.jetstream_publisher import RoundPublisher
from eventstore.jetstream_reads import StreamReads
from eventstore.jetstream_rounds import (
    RoundWindow,
    StreamRound,
    parse_round_header,
)
from eventstore.jetstream_setup import (
    NETWORK_ERRORS,
    check_durability,
    close_quietly,
    connect,
    ensure_stream,
    genesis,
    subject_of,
)
from eventstore.records import NewRecord, Record

_LOGGER_NAME = "eventstore.jetstream"
DEFAULT_STREAM: Final = "CHAT"
DEFAULT_WINDOW_BYTES: Final = 64 * 1024 * 1024
ROUND_TARGET_BYTES: Final = 512 * 1024  # below NATS's default max_payload of 1 MiB
HEARTBEAT_S: Final = 1.0  # the ordered consumer is recreated after two missed ones
LOADS_AT_ONCE: Final = 4  # reads of older rounds in flight at once (each pins what it read)
# Tests only: the tail takes each message this much later (a replica that lags).
FOLLOW_DELAY_VARIABLE: Final = "CHAT_TEST_FOLLOW_DELAY_S"
RecordsCallback = Callable[[list[Record]], None]


class JetStreamEventLog:
    """The EventLog on a JetStream stream. Open with `await JetStreamEventLog.open(url)`."""

    def __init__(
        self,
        *,
        nc: NatsClient,
        stream: str,
        log_id: str,
        logger: logging.Logger,
        timeout_s: float,
        append_timeout_s: float,
        lock_fd: int | None,
        window_bytes: int = DEFAULT_WINDOW_BYTES,
    ) -> None:
        self.nc = nc
        self.js: JetStreamContext = nc.jetstream(timeout=timeout_s)
        self.stream = stream
        self.subject = subject_of(stream)
        self._log_id = log_id
        self._logger = logger
        self.timeout_s = timeout_s
        self._append_timeout_s = append_timeout_s
        self._lock_fd = lock_fd
        self._rounds = RoundWindow(window_bytes, fetched_bytes=max(window_bytes // 4, 1 << 20))
        self.reads = StreamReads(nc, self.js, stream, timeout_s=timeout_s)
        self._loads = asyncio.Semaphore(LOADS_AT_ONCE)
        self._last_seq = 1  # the highest stream sequence seen (1: the genesis)
        self._head = 0
        self._durable_head = 0
        self._stream_head = 0  # the stream's head offset as last learned
        self._on_records: RecordsCallback | None = None
        self._moved = asyncio.Event()  # pulsed when the tail takes a message
        self._follow_delay_s = float(os.environ.get(FOLLOW_DELAY_VARIABLE, "0") or 0)
        self._sub: object | None = None
        self._writer = False
        self._publisher = RoundPublisher(
            self.js,
            stream=stream,
            log_id=log_id,
            timeout_s=timeout_s,
            append_timeout_s=append_timeout_s,
            max_round_bytes=min(ROUND_TARGET_BYTES, max(nc.max_payload - 4096, 4096)),
            logger=logger,
            published=self._published_round,
            failed=self._fail,
        )
        self._failure: LogFailedError | None = None
        self._closing = False
        self._closed = False
        self.round_observer: Callable[[int, float], None] | None = None
        # Told once, with the LogFailedError, when this log fails (`Core.fail`).
        self.on_failure: Callable[[BaseException], None] | None = None

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        stream: str = DEFAULT_STREAM,
        data_dir: str | os.PathLike[str] | None = None,
        replicas: int = 1,
        create: bool = True,
        allow_unsafe: bool = False,
        log_id: str | None = None,
        timeout_s: float = 5.0,
        append_timeout_s: float = 10.0,
        window_bytes: int = DEFAULT_WINDOW_BYTES,
        start: bool = True,
        logger: logging.Logger | None = None,
    ) -> JetStreamEventLog:
        """Connect, create the stream (and its genesis) if missing, and catch up.

        `data_dir` is this replica's own directory: a lock in it keeps a second
        process from using it. `log_id` is the id a new log gets (a copy keeps
        its source's). With `start=False` the log does not follow the stream
        yet: the caller calls `start` (from a snapshot's offset, say).
        Raises LogLockedError, EventStoreError (NATS cannot be reached, the
        stream is not a chat log or cannot give durable acks).
        """
        logger = logger or logging.getLogger(_LOGGER_NAME)
        lock_fd = None
        if data_dir is not None:
            lock_fd = lock.acquire(os.path.join(os.fspath(data_dir), "replica"))
        try:
            nc = await connect(url, timeout_s, logger)
        except BaseException:
            if lock_fd is not None:
                lock.release(lock_fd)
            raise
        try:
            js = nc.jetstream(timeout=timeout_s)
            config = await ensure_stream(js, stream, replicas=replicas, create=create)
            check_durability(config, allow_unsafe=allow_unsafe, logger=logger)
            found_id = await genesis(js, stream, log_id or secrets.token_hex(16))
            log = cls(
                nc=nc,
                stream=stream,
                log_id=found_id,
                logger=logger,
                timeout_s=timeout_s,
                append_timeout_s=append_timeout_s,
                lock_fd=lock_fd,
                window_bytes=window_bytes,
            )
            if start:
                await log.start()
        except BaseException:
            await close_quietly(nc)
            if lock_fd is not None:
                lock.release(lock_fd)
            raise
        return log

    # -- the contract ----------------------------------------------------------------

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
        """The first offset the stream still holds, as far as this replica has seen."""
        return self.reads.first_offset

    @property
    def lag(self) -> int:
        """Offsets this replica knows the stream has and it has not taken yet."""
        return max(0, self._stream_head - self._durable_head)

    @property
    def window_bytes(self) -> int:
        """What the rounds held in memory take (the window and the rounds reads fetched)."""
        return self._rounds.size_bytes + self._rounds.fetched_size_bytes

    @property
    def fetched_messages(self) -> int:
        """Stream messages read on demand (older offsets, snapshots' rounds)."""
        return self.reads.fetched_messages

    @property
    def available(self) -> bool:
        """Whether NATS is reachable now."""
        return self.nc.is_connected

    @property
    def is_writer(self) -> bool:
        return self._writer and self._failure is None and not self._closing

    def append_nowait(self, records: Sequence[NewRecord]) -> FileAppend:
        """Assign offsets and stage the batch for a round (all or nothing).

        Raises NotWriterError (another replica writes), LogUnavailableError
        (NATS is away), LogFailedError, RecordTooLargeError and EventStoreError.
        """
        if self._failure is not None:
            raise LogFailedError(str(self._failure)) from self._failure
        if self._closing:
            raise EventStoreError(f"stream {self.stream}: the log is closed")
        if not self._writer:
            raise NotWriterError(f"stream {self.stream}: this replica is not the writer")
        if not self.nc.is_connected:
            raise LogUnavailableError("NATS is not reachable", retry_after_s=1.0)
        if not records:
            return FileAppend([], None, self._append_timeout_s)
        round_, stored = self._publisher.stage(records, self._head)
        self._head = stored[-1].offset
        return FileAppend(stored, round_, self._append_timeout_s)

    async def append(self, records: Sequence[NewRecord]) -> list[Record]:
        """Append one batch and wait until it is durable. Raises EventStoreError."""
        pending = self.append_nowait(records)
        await pending.wait_durable()
        return pending.records

    def read(self, offset: int) -> Record:
        """Read one record (held, or loaded by `load`).

        Raises OffsetOutOfRangeError (past the head, or no longer in the
        stream), NotLoadedError (an older offset not loaded).
        """
        if offset > self._durable_head:
            staged = self._publisher.staged(offset) if self._failure is None else None
            if staged is None:
                raise OffsetOutOfRangeError(offset, self._durable_head)
            return staged
        if offset < self.first_offset:
            raise OffsetOutOfRangeError(offset, self._durable_head)
        return self._rounds.read(offset)

    def iter_from(self, after: int = 0) -> Iterator[Record]:
        """The durable records after `after`, up to the durable head as it is now.

        Raises OffsetOutOfRangeError when the stream no longer holds the
        record after `after`; the iterator raises NotLoadedError at an older
        offset that `load` did not fetch.
        """
        first = max(after, 0) + 1
        if first < self.first_offset and first <= self._durable_head:
            raise OffsetOutOfRangeError(first, self._durable_head)
        return self._rounds.iter_range(first, self._durable_head)

    async def load(self, after: int, last: int) -> None:
        """Fetch the rounds of the offsets after `after` up to `last` this replica does not hold.

        `read` and `iter_from` serve them until the next `load` returns (so
        read them without an await in between). Offsets the stream no longer
        holds move `first_offset` up instead. Raises LogUnavailableError (NATS
        did not answer within the deadline) and EventStoreError.
        """
        first = max(after + 1, self.first_offset, 1)
        last = min(last, self._durable_head, self._rounds.first_offset - 1)
        if first > last:
            return
        missing = self._rounds.missing(first, last)
        if missing is None:
            return
        async with self._loads:
            fetched = await self.reads.rounds(missing - 1, last, last_seq=self._last_seq)
        self._rounds.remember(fetched)

    async def holding(self, offset: int) -> StreamRound | None:
        """The round with `offset`, held or read from the stream; None when the stream has none.

        Raises LogUnavailableError and EventStoreError.
        """
        if offset < 1 or offset > self._durable_head:
            return None
        return self._rounds.find(offset) or await self.reads.holding(
            offset, last_seq=self._last_seq
        )

    def held_round(self, offset: int) -> StreamRound | None:
        """The round with `offset` if this replica holds it (the newest one always is)."""
        return self._rounds.find(offset) if 1 <= offset <= self._durable_head else None

    def follow(self, callback: RecordsCallback) -> None:
        """Hand every round another writer publishes from now on to `callback`, as it comes."""
        self._on_records = callback

    async def close(self) -> None:
        """Publish what is staged (within the append timeout), stop following, disconnect."""
        if self._closed:
            return
        self._closing = True
        if not await self._publisher.close():
            self._fail(EventStoreError("closed with rounds NATS did not acknowledge"))
        self.reads.close()
        self._closed = True
        await close_quietly(self.nc)
        if self._lock_fd is not None:
            lock.release(self._lock_fd)
            self._lock_fd = None
        self._logger.info(
            "log.closed stream=%s head=%d durable_head=%d failed=%s",
            self.stream,
            self._head,
            self._durable_head,
            self._failure is not None,
        )

    # -- following the stream ----------------------------------------------------------

    async def start(self, *, after: int = 0, seq: int = 1) -> None:
        """Follow the stream from the message after sequence `seq`, where offset `after` ends.

        0 and 1 (the genesis): from the start; a snapshot at offset N gives
        N and the sequence after which the stream holds the offsets after N.
        The stream up to its head as of now is read in batches (a read
        ahead of the one being folded), then an ordered consumer follows
        it. Raises EventStoreError (NATS, a round out of order, the
        callback's failure).
        """
        target, last = await self.reads.last_round()
        self._head = self._durable_head = after
        self._last_seq = seq
        self._rounds.reset(after)
        self._learn_head(last)
        async for batch in self.reads.scan(seq + 1, target):
            for round_ in batch:
                self._take(round_)
        self._sub = await self.js.subscribe(
            self.subject,
            stream=self.stream,
            cb=self._on_message,
            ordered_consumer=True,
            idle_heartbeat=HEARTBEAT_S,
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            config=ConsumerConfig(opt_start_seq=self._last_seq + 1),
        )

    async def until_seq(self, seq: int, *, stall_timeout_s: float) -> None:
        """Wait until the tail has taken stream sequence `seq`.

        Raises EventStoreError when it makes no progress for `stall_timeout_s`.
        """
        while self._last_seq < seq:
            if self._failure is not None:
                raise LogFailedError(str(self._failure))
            seen = self._last_seq
            self._moved.clear()
            try:
                async with asyncio.timeout(stall_timeout_s):
                    await self._moved.wait()
            except TimeoutError:
                if self._last_seq == seen:
                    raise EventStoreError(
                        f"stream {self.stream}: stuck at sequence {seen} of {seq}"
                    ) from None

    async def _on_message(self, msg: Msg) -> None:
        if self._follow_delay_s > 0:
            await asyncio.sleep(self._follow_delay_s)
        try:
            first, count = parse_round_header(msg.headers)
            self._take(StreamRound(first, count, bytes(msg.data), msg.metadata.sequence.stream))
        except EventStoreError as exc:
            self._fail(exc)
        finally:
            self._moved.set()

    def _take(self, round_: StreamRound) -> None:
        seq, first, last = round_.seq, round_.first, round_.last
        if seq <= self._last_seq:
            return  # delivered again after the consumer was recreated
        self._last_seq = seq
        self.reads.map.note(first, seq)
        if round_.count == 0:
            return  # a fence
        self._stream_head = max(self._stream_head, last)
        if last <= self._head:
            return  # this writer's own round: the publisher handles it
        if first > self._durable_head + 1 or self._failure is not None:
            raise EventStoreError(
                f"stream {self.stream} sequence {seq}: round from {first} after {self._head}"
            )
        records = self._rounds.add(round_)
        if first <= self._durable_head:  # started from an offset inside this round
            records = records[self._durable_head - first + 1 :]
        self._head = self._durable_head = last
        if self._on_records is not None:
            self._on_records(records)

    def _learn_head(self, last: StreamRound | None) -> None:
        if last is not None:
            self._stream_head = max(self._stream_head, last.first + last.count - 1)

    async def refresh_stream_head(self) -> None:
        """Learn the stream's head offset (for `lag`). Raises EventStoreError."""
        self._learn_head((await self.reads.last_round())[1])

    async def catch_up(self, timeout_s: float) -> bool:
        """Follow the stream to its head as of now, waiting up to `timeout_s`.

        True when this replica was behind and has caught up, False when it
        was not behind or could not catch up in time (or NATS is away).
        """
        if self.is_writer:
            return False  # everything in the stream went through this replica
        try:
            async with asyncio.timeout(timeout_s):
                target = await self.reads.last_seq()
                if self._last_seq >= target:
                    return False
                await self.until_seq(target, stall_timeout_s=timeout_s)
        except (TimeoutError, EventStoreError):
            return False
        return True

    # -- the writer ----------------------------------------------------------------------

    async def become_writer(self) -> bool:
        """Catch up and fence former writers; True when this replica now writes.

        False when another writer published meanwhile (try again later).
        Raises LogUnavailableError (NATS away) and LogFailedError.
        """
        if self._writer:
            return True
        try:
            info = await self.js.stream_info(self.stream)
        except NETWORK_ERRORS as exc:
            raise LogUnavailableError(f"NATS: {exc!r}", retry_after_s=1.0) from exc
        await self.until_seq(info.state.last_seq, stall_timeout_s=self.timeout_s)
        seq = await self._publisher.fence(self._head + 1, self._last_seq)
        if seq is None:
            return False
        self._last_seq = max(self._last_seq, seq)
        self._writer = True
        self._logger.info("writer stream=%s head=%d sequence=%d", self.stream, self._head, seq)
        return True

    async def published(self) -> None:
        """Return once the publisher has finished a round (or at once when none is staged)."""
        await self._publisher.one_published()

    def resign_writer(self) -> bool:
        """Stop writing; False while rounds are staged (they are still being published)."""
        if self._publisher.busy:
            return False
        if self._writer:
            self._logger.info("no longer the writer stream=%s head=%d", self.stream, self._head)
        self._writer = False
        return True

    def _published_round(self, stored: StreamRound, seconds: float) -> None:
        self._last_seq = max(self._last_seq, stored.seq)
        self.reads.map.note(stored.first, stored.seq)
        self._rounds.add(stored)
        self._durable_head = stored.last
        self._stream_head = max(self._stream_head, stored.last)
        if self.round_observer is not None:
            self.round_observer(stored.count, seconds)

    def _fail(self, exc: BaseException, round_: Round | None = None) -> None:
        if self._failure is None:
            self._failure = LogFailedError(
                f"stream {self.stream}: {exc}; this replica refuses all further appends "
                "until it has rebuilt from the stream"
            )
            self._failure.__cause__ = exc
            self._logger.error(
                "log.failed stream=%s durable_head=%d head=%d error=%s",
                self.stream,
                self._durable_head,
                self._head,
                exc,
            )
            if self.on_failure is not None:
                self.on_failure(self._failure)
        if round_ is not None:
            round_.finish(self._failure)
        self._publisher.finish_all(self._failure)

    @property
    def failed(self) -> bool:
        return self._failure is not None
