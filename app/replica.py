"""One of several chat servers on a shared JetStream log: follow it, forward writes to its writer.

How this works: every replica replays the stream into its own read model
and then follows it (`JetStreamEventLog.follow` -> `Core.follow`), so it
answers every read from memory. Writes are ordered by one replica, the
writer, chosen by a lease (`WriterLease`) and fenced in the stream: on it
the core works exactly as on the file log (decide, stage, apply, durable).
Every other replica forwards its commands (`execute`, which the core calls
instead of staging: `Core.forwarder`) to the writer, which executes them as
its own and answers with the offsets of their events (or the domain error),
and with its head. The asking replica waits until it has followed the
stream that far (`reach`), so its client reads what it wrote, and a refusal
(a name taken on another replica) is explained by the state it reads.

Why one writer, not optimistic appends by all: the core applies events
before they are durable, so a replica whose append lost a race would have
to undo what it applied; and with one expected sequence, four competing
writers spent more publishes on conflicts (1,062/s) than on appends
(755/s). A writer batches everyone's commands into rounds instead.

The writer dedupes a forwarded send by its Idempotency-Key against its own
model (which has every staged event), so a retry sent to another replica
before it followed the first send returns the first result. Scheduled
deliveries and session expiry may run on every replica: the writer's rules
make a second delivery of one message a no-op.

When another replica takes the lease over while this one still had rounds
staged (its event loop stalled past the lease's TTL, say), the new writer's
fence refuses them: the log fails as fenced (`WriterFencedError`), the
commands waiting on them get 503, and the server replaces this service by
a new one built from the stream (`transport.serve`), so the read model
drops what was staged and never stored. That service follows the new
writer and competes for the lease again.

When NATS is away a replica keeps answering reads; writes get 503 with
Retry-After (`UnavailableError`); the ordered consumer resumes where it
stopped when NATS is back. A replica holds only the newest rounds of the
stream: older offsets are read from the stream on demand (`load`, before a
poll reads them; 503 when NATS does not answer in time). A token a replica
does not know yet may be one that another replica has just handed out: the
API asks `catch_up` (follow the stream to its head as of now, up to
`replica_catch_up_s`) before it answers 401.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from app.blobs import BlobStore
from app.core import Core, Entry, Seen
from app.errors import ServiceFailedError, StartupError
from app.replica_blobs import ReplicatedBlobs
from app.replica_codec import (
    Outcome,
    decode_commands,
    decode_outcome,
    encode_commands,
    encode_outcome,
)
from app.replica_snapshots import StreamPlace, start_from_snapshot
from app.service import ChatService, prepare_data_dir
from app.settings import Settings
from app.snapshotting import Snapshots
from domain import (
    Command,
    DomainError,
    ScheduleMessage,
    SendMessage,
    UnavailableError,
    decode,
    name_key,
)
from eventstore import (
    EventStoreError,
    JetStreamEventLog,
    LogUnavailableError,
    NotWriterError,
    WriterLease,
)

log = logging.getLogger("app.replica")

NO_WRITER_PAUSE_S = 0.05  # between tries while no replica holds the writer lease


class Replica:
    """The core's forwarder on a replica (see the module docstring)."""

    def __init__(self, core: Core, event_log: JetStreamEventLog, lease: WriterLease) -> None:
        self._core = core
        self._log = event_log
        self._lease = lease
        self._settings = core.settings
        self._advanced = asyncio.Event()

    # -- as a listener of the core: know when the head moves ---------------------------

    def on_staged(self, seen: Seen) -> None:
        pass

    def on_durable(self, seen: Sequence[Seen]) -> None:
        self._advanced.set()

    # -- the core's forwarder -----------------------------------------------------------

    def writes_here(self) -> bool:
        return self._log.is_writer

    async def reach(self, offset: int) -> bool:
        deadline = time.monotonic() + self._settings.replica_catch_up_s
        while self._core.durable_head < offset:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._core.has_failed:
                return False
            self._advanced.clear()
            try:
                async with asyncio.timeout(remaining):
                    await self._advanced.wait()
            except TimeoutError:
                return False
        return True

    async def load(self, after: int, last: int) -> None:
        """Fetch the rounds of after..last this replica no longer holds.

        Raises UnavailableError (NATS did not answer in time).
        """
        try:
            await self._log.load(after, last)
        except EventStoreError as exc:
            raise UnavailableError(
                f"cannot read the log's older events now: {exc}", retry_after_s=1.0
            ) from exc

    async def catch_up(self) -> bool:
        """Whether this replica was behind the stream and has caught up (never raises)."""
        return await self._log.catch_up(self._settings.replica_catch_up_s)

    async def execute(self, commands: Sequence[Command]) -> list[Entry]:
        """Have the writer execute `commands`; return their entries once followed here.

        Raises DomainError (the writer's rules refused one), UnavailableError
        (no writer, NATS away, or this replica cannot catch up in time).
        """
        outcome = await self._ask(encode_commands(commands))
        if not await self.reach(outcome.through):
            raise UnavailableError("this replica is behind the log; try again", retry_after_s=1.0)
        if outcome.error is not None:
            raise outcome.error
        if outcome.offsets:  # a burst may have pushed them out of the window already
            await self.load(min(outcome.offsets) - 1, max(outcome.offsets))
        entries: list[Entry] = []
        for offset in outcome.offsets:
            record = self._log.read(offset)
            entries.append((offset, record.ts, decode(record.name, record.data)))
        return entries

    async def _ask(self, payload: bytes) -> Outcome:
        timeout_s = 2 * self._settings.nats_timeout_s
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise UnavailableError("no replica is writing now", retry_after_s=1.0)
            try:
                outcome = decode_outcome(await self._lease.request(payload, timeout_s=remaining))
            except NotWriterError:
                outcome = Outcome(through=0, unavailable="no writer")
            except LogUnavailableError as exc:
                raise UnavailableError(
                    f"cannot write now: {exc}", retry_after_s=exc.retry_after_s
                ) from exc
            if outcome.unavailable is None:
                return outcome
            # Nobody got it (no writer yet, or one that just stopped): safe to send again.
            await asyncio.sleep(NO_WRITER_PAUSE_S)

    async def close(self) -> None:
        await self._lease.close()

    # -- on the writer: answer the others ------------------------------------------------

    async def answer(self, payload: bytes) -> bytes:
        """Execute forwarded commands as this replica's own; the encoded outcome."""
        try:
            commands = decode_commands(payload)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("a forwarded request that is not one: %r", exc)
            return encode_outcome(Outcome(through=0, unavailable="bad request"))
        if not self.writes_here():
            return encode_outcome(Outcome(through=0, unavailable="not the writer"))
        earlier = self._earlier(commands)
        if earlier is not None:
            return encode_outcome(Outcome(through=earlier, offsets=(earlier,)))
        try:
            entries = await self._core.execute(commands)
        except DomainError as exc:
            return encode_outcome(Outcome(through=self._log.head, error=exc))
        except ServiceFailedError as exc:
            refusal = UnavailableError(str(exc), retry_after_s=5.0)
            return encode_outcome(Outcome(through=0, error=refusal))
        offsets = tuple(offset for offset, _, _ in entries)
        return encode_outcome(Outcome(through=max(offsets, default=0), offsets=offsets))

    def _earlier(self, commands: Sequence[Command]) -> int | None:
        """The message a send with the same Idempotency-Key made, if the writer has one."""
        if len(commands) != 1 or not isinstance(commands[0], SendMessage | ScheduleMessage):
            return None
        command = commands[0]
        if command.idempotency_key is None:
            return None
        key = (name_key(command.author), command.idempotency_key)
        model = self._core.model
        return model.timeline.by_key.get(key) or model.schedule.by_key.get(key)


async def open_replica(settings: Settings, *, blobs: BlobStore | None = None) -> ChatService:
    """A service on the JetStream log of `settings.nats_url`, caught up, following, started.

    It starts from the newest of its own snapshots that holds against the
    stream (`app.replica_snapshots`). Raises StartupError saying what is
    wrong (NATS unreachable, an unsafe or foreign stream, a data directory
    in use, events no snapshot covers).
    """
    try:
        prepare_data_dir(settings.data_dir)
        event_log = await JetStreamEventLog.open(
            settings.nats_url,
            stream=settings.nats_stream,
            data_dir=settings.data_dir,
            replicas=settings.nats_stream_replicas,
            allow_unsafe=settings.nats_allow_unsafe,
            timeout_s=settings.nats_timeout_s,
            append_timeout_s=2 * settings.nats_timeout_s,
            window_bytes=settings.nats_window_bytes,
            start=False,
        )
    except (EventStoreError, OSError) as exc:
        raise StartupError(f"cannot open the JetStream log: {exc}") from exc
    lease = WriterLease(event_log, ttl_s=settings.nats_lease_ttl_s)
    if blobs is None:
        blobs = ReplicatedBlobs.for_log(settings, event_log)
    service = ChatService(settings, event_log, blobs=blobs)
    service.snapshots = Snapshots(service.core, settings, place=StreamPlace(settings, event_log))
    replica = Replica(service.core, event_log, lease)
    event_log.on_failure = service.core.fail  # even when no command waits on the failed round
    service.core.listen(replica)
    service.core.forwarder = replica
    try:
        await start_from_snapshot(service, event_log, settings)
        await lease.start(replica.answer)
        await service.files.remove_orphans()
        await service.start()
    except EventStoreError as exc:
        await service.core.close()
        raise StartupError(f"cannot start the replica: {exc}") from exc
    except BaseException:
        await service.core.close()
        raise
    log.info(
        "replica of stream %s writer=%s head=%d",
        settings.nats_stream,
        replica.writes_here(),
        service.core.durable_head,
    )
    return service
