"""The JetStream event log: a NATS JetStream stream shared by several replicas, one writer.

How this works
--------------
The stream has one subject, `<stream>.log`; its messages are rounds
(`jetstream_rounds`). Sequence 1 is the genesis, which holds the log id: the
replica that publishes it first (expecting last sequence 0) creates the log,
the others read it, so every replica reports the same log id and a reset
stream (a new genesis) is a new log id.

Every replica follows the stream with an ordered consumer (`_on_message`)
and keeps the published rounds (`RoundStore`); `open` returns once it has
caught up with the stream as it was then. Rounds another writer publishes
advance `head` and `durable_head` together and are handed to the callback
given to `follow` in the same step, so a replica's read model moves with its
log.

One replica at a time is the writer; a lease outside this class decides
which (`jetstream_lease`). `become_writer` catches up, then publishes an
empty *fence* round expecting the last sequence it has seen: from then on a
former writer's publish, which expects an older sequence, is refused. The
writer's `append_nowait` assigns offsets synchronously and queues the batch
in the newest staged round (a `group_commit.Round`, as in the file log); one
publisher task publishes rounds in order, each with
`Nats-Expected-Last-Sequence` (the sequence of the one before) and
`Nats-Msg-Id` (log id and first offset), so a publish retried after a lost
acknowledgement is answered as a duplicate with the same sequence. A round
is durable once JetStream acknowledges it: with `sync_interval: always` on
the servers that means fsynced on a quorum (`check_durability`).

Failures: a refused expectation means another writer fenced this one while
it had rounds staged (its caller applied them already): fatal, every waiter
gets LogFailedError, as after a failed fsync of the file log. Losing NATS is
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
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Final

import nats.js.errors
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
from eventstore.format import DEFAULT_MAX_FRAME_BYTES, encode_payload, make_record, new_packer
from eventstore.group_commit import FileAppend, Round
from eventstore.jetstream_rounds import (
    ROUND_HEADER,
    RoundStore,
    parse_round_header,
    round_header,
)
from eventstore.jetstream_setup import (
    NETWORK_ERRORS,
    WRONG_LAST_SEQUENCE,
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
ROUND_TARGET_BYTES: Final = 512 * 1024  # below NATS's default max_payload of 1 MiB
HEARTBEAT_S: Final = 1.0  # the ordered consumer is recreated after two missed ones
RETRY_PAUSE_S: Final = 0.2  # between publishes of a round while NATS is away
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
        self._rounds = RoundStore()
        self._last_seq = 1  # the highest stream sequence seen (1: the genesis)
        self._head = 0
        self._durable_head = 0
        self._stream_head = 0  # the stream's head offset as last learned
        self._on_records: RecordsCallback | None = None
        self._moved = asyncio.Event()  # pulsed when the tail takes a message
        self._sub: object | None = None
        self._pack = new_packer()
        self._max_round_bytes = min(ROUND_TARGET_BYTES, max(nc.max_payload - 4096, 4096))
        # The writer's state.
        self._writer = False
        self._writer_seq = 0  # the sequence of the writer's last acknowledged round
        self._queue: deque[Round] = deque()
        self._inflight: Round | None = None
        self._wakeup = asyncio.Event()
        self._published = asyncio.Event()  # set after each round the publisher finishes
        self._publisher: asyncio.Task[None] | None = None
        self._failure: LogFailedError | None = None
        self._closing = False
        self._closed = False
        self.round_observer: Callable[[int, float], None] | None = None

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
        logger: logging.Logger | None = None,
    ) -> JetStreamEventLog:
        """Connect, create the stream (and its genesis) if missing, and catch up.

        `data_dir` is this replica's own directory: a lock in it keeps a second
        process from using it. `log_id` is the id a new log gets (a copy keeps
        its source's). Raises LogLockedError, EventStoreError (NATS cannot be
        reached, the stream is not a chat log or cannot give durable acks).
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
            )
            await log._catch_up()
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
    def lag(self) -> int:
        """Offsets this replica knows the stream has and it has not taken yet."""
        return max(0, self._stream_head - self._durable_head)

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
                max_frame_bytes=min(DEFAULT_MAX_FRAME_BYTES, self._max_round_bytes),
                pack=self._pack,
            )
            size += len(payload)
            payloads.append(payload)
            stored.append(make_record(offset, record.ts, record.name, data))
        if size > self._max_round_bytes:
            raise EventStoreError(f"a batch of {size} bytes exceeds {self._max_round_bytes}")
        round_ = self._queue[-1] if self._queue else None
        if round_ is None or round_.body_bytes + size > self._max_round_bytes:
            round_ = Round()
            self._queue.append(round_)
        round_.payloads += payloads
        round_.records += stored
        round_.body_bytes += size
        self._head = offset
        self._wakeup.set()
        return FileAppend(stored, round_, self._append_timeout_s)

    async def append(self, records: Sequence[NewRecord]) -> list[Record]:
        """Append one batch and wait until it is durable. Raises EventStoreError."""
        pending = self.append_nowait(records)
        await pending.wait_durable()
        return pending.records

    def read(self, offset: int) -> Record:
        """Read one record. Raises OffsetOutOfRangeError."""
        if offset > self._durable_head:
            if self._failure is None and offset <= self._head:
                for round_ in (self._inflight, *self._queue):
                    if round_ is not None and round_.holds(offset):
                        return round_.records[offset - round_.records[0].offset]
            raise OffsetOutOfRangeError(offset, self._durable_head)
        return self._rounds.read(offset)

    def iter_from(self, after: int = 0) -> Iterator[Record]:
        """The durable records after `after`, up to the durable head as it is now."""
        return self._rounds.iter_range(max(after, 0) + 1, self._durable_head)

    def follow(self, callback: RecordsCallback) -> None:
        """Hand every round another writer publishes from now on to `callback`, as it comes."""
        self._on_records = callback

    async def close(self) -> None:
        """Publish what is staged (within the append timeout), stop following, disconnect."""
        if self._closed:
            return
        self._closing = True
        self._wakeup.set()
        if self._publisher is not None:
            try:
                async with asyncio.timeout(self._append_timeout_s):
                    await asyncio.shield(self._publisher)
            except TimeoutError:
                self._publisher.cancel()
                self._fail(EventStoreError("closed with rounds NATS did not acknowledge"))
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

    async def _catch_up(self) -> None:
        """Follow the stream from the start; return once the head as of now is reached."""
        info = await self.js.stream_info(self.stream)
        target = info.state.last_seq
        if target > 1:
            last = await self.js.get_msg(self.stream, seq=target)
            first, count = parse_round_header(last.headers)
            self._stream_head = first + count - 1
        self._sub = await self.js.subscribe(
            self.subject,
            stream=self.stream,
            cb=self._on_message,
            ordered_consumer=True,
            idle_heartbeat=HEARTBEAT_S,
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            config=ConsumerConfig(opt_start_seq=2),
        )
        await self.until_seq(target, stall_timeout_s=self.timeout_s * 4)

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
        try:
            self._take(msg)
        except EventStoreError as exc:
            self._fail(exc)
        finally:
            self._moved.set()

    def _take(self, msg: Msg) -> None:
        seq = msg.metadata.sequence.stream
        if seq <= self._last_seq:
            return  # delivered again after the consumer was recreated
        first, count = parse_round_header(msg.headers)
        self._last_seq = seq
        if count == 0:
            return  # a fence
        last = first + count - 1
        self._stream_head = max(self._stream_head, last)
        if first <= self._head:
            return  # this writer's own round: the publisher handles it
        if first != self._durable_head + 1 or self._failure is not None:
            raise EventStoreError(
                f"stream {self.stream} sequence {seq}: round from {first} after {self._head}"
            )
        body = bytes(msg.data)
        self._rounds.add(first, count, body)
        self._head = self._durable_head = last
        if self._on_records is not None:
            self._on_records(list(self._rounds.iter_range(first, last)))

    async def refresh_stream_head(self) -> None:
        """Learn the stream's head offset (for `lag`). Raises EventStoreError."""
        try:
            info = await self.js.stream_info(self.stream)
            if info.state.last_seq > 1:
                last = await self.js.get_msg(self.stream, seq=info.state.last_seq)
                first, count = parse_round_header(last.headers)
                self._stream_head = max(self._stream_head, first + count - 1)
        except NETWORK_ERRORS as exc:
            raise LogUnavailableError(f"NATS: {exc!r}", retry_after_s=1.0) from exc

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
            await self.until_seq(info.state.last_seq, stall_timeout_s=self.timeout_s)
            ack = await self.js.publish(
                self.subject,
                b"",
                stream=self.stream,
                timeout=self.timeout_s,
                headers={
                    ROUND_HEADER: round_header(self._head + 1, 0),
                    "Nats-Expected-Last-Sequence": str(self._last_seq),
                    "Nats-Msg-Id": f"{self._log_id}.fence.{secrets.token_hex(8)}",
                },
            )
        except nats.js.errors.APIError as exc:
            if exc.err_code in WRONG_LAST_SEQUENCE:
                return False
            raise LogUnavailableError(f"NATS: {exc}", retry_after_s=1.0) from exc
        except NETWORK_ERRORS as exc:
            raise LogUnavailableError(f"NATS: {exc!r}", retry_after_s=1.0) from exc
        self._writer_seq = ack.seq
        self._last_seq = max(self._last_seq, ack.seq)
        self._writer = True
        if self._publisher is None:
            self._publisher = asyncio.get_running_loop().create_task(
                self._publish_loop(), name=f"jetstream-publisher {self.stream}"
            )
        self._logger.info("writer stream=%s head=%d sequence=%d", self.stream, self._head, ack.seq)
        return True

    async def published(self) -> None:
        """Return once the publisher has finished a round (or at once when none is staged)."""
        if self._queue or self._inflight is not None:
            self._published.clear()
            await self._published.wait()

    def resign_writer(self) -> bool:
        """Stop writing; False while rounds are staged (they are still being published)."""
        if self._queue or self._inflight is not None:
            return False
        if self._writer:
            self._logger.info("no longer the writer stream=%s head=%d", self.stream, self._head)
        self._writer = False
        return True

    async def _publish_loop(self) -> None:
        try:
            while self._failure is None:
                if not self._queue:
                    if self._closing:
                        return
                    self._wakeup.clear()
                    await self._wakeup.wait()
                    continue
                await self._publish(self._queue.popleft())
        except asyncio.CancelledError:
            self._fail(EventStoreError("the publisher task was cancelled"))
            raise

    async def _publish(self, round_: Round) -> None:
        self._inflight = round_
        records = round_.records
        first, last = records[0].offset, records[-1].offset
        body = b"".join(round_.payloads)
        headers = {
            ROUND_HEADER: round_header(first, len(records)),
            "Nats-Expected-Last-Sequence": str(self._writer_seq),
            "Nats-Msg-Id": f"{self._log_id}.{first}",
        }
        started = time.monotonic()
        while True:
            try:
                ack = await self.js.publish(
                    self.subject,
                    body,
                    stream=self.stream,
                    timeout=self.timeout_s,
                    headers=dict(headers),
                )
                break
            except nats.js.errors.APIError as exc:
                if exc.err_code in WRONG_LAST_SEQUENCE:
                    self._fail(EventStoreError(f"another writer took over ({exc})"), round_)
                    return
                if self._closing and time.monotonic() - started > self._append_timeout_s:
                    self._fail(EventStoreError(f"not published at close: {exc}"), round_)
                    return
                self._logger.warning("publish of round from %d refused: %s", first, exc)
            except NETWORK_ERRORS as exc:
                if self._closing and time.monotonic() - started > self._append_timeout_s:
                    self._fail(EventStoreError(f"not published at close: {exc!r}"), round_)
                    return
                self._logger.warning("publish of round from %d failed, retrying: %r", first, exc)
            await asyncio.sleep(RETRY_PAUSE_S)
        self._writer_seq = ack.seq
        self._last_seq = max(self._last_seq, ack.seq)
        self._rounds.add(first, len(records), body)
        self._durable_head = last
        self._stream_head = max(self._stream_head, last)
        self._inflight = None
        round_.finish()
        self._published.set()
        if self.round_observer is not None:
            self.round_observer(len(records), time.monotonic() - started)

    def _fail(self, exc: BaseException, *rounds: Round) -> None:
        if self._failure is None:
            self._failure = LogFailedError(
                f"stream {self.stream}: {exc}; this replica refuses all further appends; "
                "restart it to follow the stream again"
            )
            self._failure.__cause__ = exc
            self._logger.error(
                "log.failed stream=%s durable_head=%d head=%d error=%s",
                self.stream,
                self._durable_head,
                self._head,
                exc,
            )
        for round_ in (*rounds, *self._queue):
            round_.finish(self._failure)
        self._queue.clear()
        self._inflight = None
        self._published.set()

    @property
    def failed(self) -> bool:
        return self._failure is not None
