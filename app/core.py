"""The core every feature writes through: decide -> stage -> durable -> notify.

How this works: a command is decided against the read model, its events
are staged in the log (`append_nowait` assigns offsets) and applied to the
model in one synchronous step, so the next command always decides on a
state that includes every earlier one. The caller then awaits durability
(the log batches concurrent appends into one fsync) and only then answers;
listeners hear of each event twice: `on_staged` as it is applied (polling
keeps it in its window of recent events), `on_durable` once it is on disk
(polling wakes the polls that care, the scheduler re-arms its timer).
Readers never see past the log's `durable_head`: every query clips at it.
If the log fails, the core fails: it refuses everything after, and the
server stops; except when the log failed because another replica took
over writing a shared log (`fenced`): then the server rebuilds its service
from the stream as a follower (`transport.serve`), as what this core staged
and applied was never stored.

Features (`app.identity`, `app.messages`, ...) receive the core; none of
them knows the others' state or the service that holds them all.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from app.budgets import Budget, Budgets
from app.disk import DiskFloor
from app.errors import ServiceFailedError, StartupError
from app.settings import Settings
from domain import (
    CloseSession,
    Command,
    CreateGeneral,
    DeliverScheduled,
    Event,
    EventDecodeError,
    ExpireSessions,
    MoveCursor,
    RulesConfig,
    TouchSession,
    UnavailableError,
    decide,
    decode,
    encode,
)
from eventstore import (
    EventLog,
    EventStoreError,
    LogUnavailableError,
    NewRecord,
    NotWriterError,
    PendingAppend,
    Record,
    fenced_out,
)
from projections import Audience, ReadModel

log = logging.getLogger("app.core")

Clock = Callable[[], float]
Entry = tuple[int, float, Event]  # offset, ts, event
Seen = tuple[int, float, Event, Audience]  # ... and who may see it

REPLAY_PROGRESS_EVERY_S = 3.0
# The server's own small writes go through below the free-space floor (down to
# the hard floor): they revoke tokens, keep read positions and deliver what was
# already accepted.
_PAST_THE_FLOOR = (
    CreateGeneral,
    CloseSession,
    MoveCursor,
    DeliverScheduled,
    TouchSession,
    ExpireSessions,
)
BUDGET_KINDS = ("messages", "comments", "uploads", "schedule", "rooms", "reports")
_LOG_FAILED = "the event log has failed; the server is stopping"
_FENCED = "another replica took over writing the log; this one is rejoining as a follower"


class Listener(Protocol):
    """What a feature that follows the log implements (see the module docstring)."""

    def on_staged(self, seen: Seen) -> None:
        """An event was staged and applied to the model (not durable yet), or replayed."""
        ...

    def on_durable(self, seen: Sequence[Seen]) -> None:
        """Events staged earlier are durable now: readers may see them."""
        ...


class Cursors(Protocol):
    """The users' read cursors, as features that count unread messages need them."""

    def cursor_of(self, user_key: str) -> int:
        """The user's acknowledged offset, including what is not yet persisted."""
        ...

    async def flush(self, user_keys: Sequence[str] | None = None) -> None:
        """Persist the pending cursors of these users (all by default) now."""
        ...


class Forwarder(Protocol):
    """Where commands go when another process writes the log (`app.replica`)."""

    def writes_here(self) -> bool:
        """Whether this process may stage commands now."""
        ...

    async def execute(self, commands: Sequence[Command]) -> list[Entry]:
        """Have the writer execute them; return once they are applied here too."""
        ...

    async def reach(self, offset: int) -> bool:
        """Wait (a short while) until `offset` is durable here; whether it is."""
        ...

    async def load(self, after: int, last: int) -> None:
        """Make the log's records after `after` up to `last` readable (it holds only the newest)."""
        ...

    async def catch_up(self) -> bool:
        """Follow the log to its head as of now (a short while); whether this process was behind."""
        ...

    async def close(self) -> None:
        """Stop forwarding and hand the writer's role back."""
        ...


class Core:
    """The log, the read model folded from it, and the one way to write to both."""

    def __init__(
        self,
        settings: Settings,
        event_log: EventLog,
        *,
        clock: Clock,
        disk: DiskFloor | None = None,
    ) -> None:
        self.settings = settings
        self.rules: RulesConfig = settings.rules
        self.model = ReadModel(ttl_s=settings.message_ttl_s, rate_window_s=settings.rate_window_s)
        self._log = event_log
        self._clock = clock
        self.disk = disk or DiskFloor(settings.data_dir, settings.min_free_disk_bytes)
        limits: dict[str, Budget] = {k: getattr(settings, f"budget_{k}") for k in BUDGET_KINDS}
        self.budgets = Budgets(limits, clock)
        self._listeners: list[Listener] = []
        self._failed: BaseException | None = None
        self.failed = asyncio.Event()  # set when the log fails: the server must stop
        self.forwarder: Forwarder | None = None  # set on a replica of a shared log

    def listen(self, listener: Listener) -> None:
        """Have `listener` hear of every event from now on (register before `replay`)."""
        self._listeners.append(listener)

    # -- what features read ---------------------------------------------------------

    @property
    def log_id(self) -> str:
        return self._log.log_id

    @property
    def event_log(self) -> EventLog:
        return self._log

    def now(self) -> float:
        """The service clock (what queries measure expiry against)."""
        return self._clock()

    def event_time(self) -> float:
        """The time the next event gets: the clock, but never before the last event."""
        # Event times never go backwards, so expiry and windows are monotonic in the log.
        return max(self._clock(), self.model.last_ts)

    @property
    def durable_head(self) -> int:
        """The highest offset readers may see."""
        return self._log.durable_head

    @property
    def next_offset(self) -> int:
        """The offset the next staged event will get (stable until the next `await`)."""
        return self._log.head + 1

    # -- replay ---------------------------------------------------------------------

    def replay(self, *, keep_recent: int, after: int = 0) -> int:
        """Fold the log after offset `after` (0: the whole log) into the model; returns how many.

        Listeners hear of the newest `keep_recent` events (`on_staged`) so that
        polls near the head never read the log file.
        Raises StartupError naming the offset of an event this code cannot read.
        """
        started = last_report = time.monotonic()
        count = 0
        model = self.model
        keep_from = self._log.head - keep_recent
        # Replay allocates millions of objects that live as long as the process:
        # the cyclic GC would rescan them again and again (about 40% of the time).
        # Pause it, then freeze what replay built so later collections skip it.
        gc.disable()
        try:
            for record in self._log.iter_from(after):
                try:
                    event = decode(record.name, record.data)
                except EventDecodeError as exc:
                    raise StartupError(
                        f"cannot read event at offset {record.offset}: {exc}; "
                        "is this log written by a newer version? (see `chat-log dump`)"
                    ) from exc
                model.apply(record.offset, record.ts, event)
                if record.offset > keep_from:
                    seen = (record.offset, record.ts, event, model.audience(record.offset, event))
                    for listener in self._listeners:
                        listener.on_staged(seen)
                count += 1
                if count % 65_536 == 0 and (now := time.monotonic()) - last_report > (
                    REPLAY_PROGRESS_EVERY_S
                ):
                    last_report = now
                    log.info("replay progress events=%d head=%d", count, self._log.head)
        finally:
            gc.enable()
            gc.freeze()
        log.info(
            "replayed events=%d head=%d duration_s=%.3f log=%s",
            count,
            model.head,
            time.monotonic() - started,
            self.log_id,
        )
        return count

    # -- the write path -------------------------------------------------------------

    def _stage(self, command: Command) -> tuple[list[Seen], PendingAppend | None]:
        """Decide a command and stage its events; no await, so state stays consistent."""
        if self._failed is not None:
            raise ServiceFailedError(self._failure_text)
        now = self.event_time()
        events = decide(self.model, command, now=now, config=self.rules)
        if not events:
            return [], None
        self.disk.check(hard=isinstance(command, _PAST_THE_FLOOR))
        try:
            pending = self._log.append_nowait(
                [NewRecord(ts=now, name=name, data=data) for name, data in map(encode, events)]
            )
        except (LogUnavailableError, NotWriterError) as exc:
            raise UnavailableError(f"cannot write now: {exc}", retry_after_s=1.0) from exc
        staged: list[Seen] = []
        for record, event in zip(pending.records, events, strict=True):
            self.model.apply(record.offset, now, event)
            seen = (record.offset, now, event, self.model.audience(record.offset, event))
            for listener in self._listeners:
                listener.on_staged(seen)
            staged.append(seen)
        return staged, pending

    async def execute(self, commands: Sequence[Command]) -> list[Entry]:
        """Stage commands in order, await durability, tell the listeners.

        Raises InsufficientStorageError (below the free-space floor; commands
        that write nothing still pass), DomainError (a rule refused a
        command; those before it are staged and kept), ServiceFailedError.
        """
        # Checked before forwarding too: a fenced writer no longer writes, and what it
        # forwarded would be stored yet answered 503 (its reads stop); refused, it is not.
        if self._failed is not None:
            raise ServiceFailedError(self._failure_text)
        if self.forwarder is not None and not self.forwarder.writes_here():
            return await self.forwarder.execute(commands)
        seen: list[Seen] = []
        last: PendingAppend | None = None
        for command in commands:
            staged, pending = self._stage(command)
            seen.extend(staged)
            last = pending or last
        if last is not None:
            await self._durable(last)
            for listener in self._listeners:
                listener.on_durable(seen)
        return [(offset, ts, event) for offset, ts, event, _ in seen]

    async def _durable(self, pending: PendingAppend) -> None:
        try:
            await pending.wait_durable()
        except LogUnavailableError as exc:  # not fatal: the round may still be published
            raise UnavailableError(str(exc), retry_after_s=exc.retry_after_s) from exc
        except EventStoreError as exc:
            self.fail(exc)
            raise ServiceFailedError(self._failure_text) from exc

    def fail(self, exc: BaseException) -> None:
        """The log failed: refuse everything from now on and set `failed` (the first one counts)."""
        if self._failed is None:
            if fenced_out(exc):
                log.warning("fenced out of the log, rejoining as a follower: %s", exc)
            else:
                log.critical("event log failed, stopping: %s", exc)
            self._failed = exc
            self.failed.set()

    @property
    def has_failed(self) -> bool:
        return self._failed is not None

    @property
    def fenced(self) -> bool:
        """Whether the log failed only because another replica took over writing it."""
        return fenced_out(self._failed)

    @property
    def _failure_text(self) -> str:
        return _FENCED if self.fenced else _LOG_FAILED

    def follow(self, records: Sequence[Record]) -> None:
        """Apply durable records another process wrote, and tell the listeners."""
        seen: list[Seen] = []
        for record in records:
            try:
                event = decode(record.name, record.data)
            except EventDecodeError as exc:
                self.fail(exc)  # a newer writer: this process cannot follow any more
                return
            self.model.apply(record.offset, record.ts, event)
            entry = (record.offset, record.ts, event, self.model.audience(record.offset, event))
            for listener in self._listeners:
                listener.on_staged(entry)
            seen.append(entry)
        for listener in self._listeners:
            listener.on_durable(seen)

    async def reach(self, offset: int) -> bool:
        """Whether `offset` is durable here, after a short wait on a replica that lags."""
        if self.durable_head >= offset:
            return True
        return self.forwarder is not None and await self.forwarder.reach(offset)

    async def load(self, after: int, last: int) -> None:
        """Make the log's records after `after` up to `last` readable until the next await.

        A replica holds only the newest rounds of the log in memory and
        fetches older ones here; elsewhere this does nothing. Raises
        UnavailableError (the log's store did not answer in time).
        """
        if self.forwarder is not None:
            await self.forwarder.load(after, last)

    async def catch_up(self) -> bool:
        """Whether this process was behind the log's head and has caught up with it.

        On a replica that follows another's writes, after a short wait;
        elsewhere False at once (never raises).
        """
        return self.forwarder is not None and await self.forwarder.catch_up()

    async def until_durable(self, offset: int) -> None:
        """Wait until `offset` is durable (it was staged by another request).

        Raises ServiceFailedError.
        """
        while self._log.durable_head < offset:
            if self._failed is not None:
                raise ServiceFailedError(self._failure_text)
            await asyncio.sleep(0.001)

    async def close(self) -> None:
        """Close the log (after the features have flushed what they hold)."""
        try:
            if self.forwarder is not None:
                await self.forwarder.close()
        finally:  # release the log (and its lock) even so: a rejoining replica opens it again
            await self._log.close()
