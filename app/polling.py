"""Synchronisation: long polls by offset, and the coalesced per-user read cursor.

How this works: a poll reads the events after `after` (from `RecentEvents`
near the head, from the log further back), keeps those the user may see, and
when there are none parks on `Waiters` until a durable append wakes the
user's polls. Passing `after` acknowledges everything up to it: the cursor
moves in memory at once (`pending_cursors`) and is persisted as one
`cursor.moved` per user per `cursor_flush_interval_s`, at disconnect and at
shutdown, so a crash can only make a few messages show as unread again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Protocol

from app.core import Core, Seen
from app.errors import ServiceFailedError
from app.inputs import check_limit
from app.recent import RecentEvents
from app.render import event_view
from app.views import EventsPage, EventView, Session
from domain import (
    Command,
    CursorMoved,
    InsufficientStorageError,
    LogMismatchError,
    MoveCursor,
    OffsetOutOfRangeError,
    RateLimitedError,
    SessionClosed,
    UnavailableError,
    ValidationError,
    decode,
    name_key,
)
from eventstore import OffsetOutOfRangeError as StoreOffsetOutOfRangeError

RECENT_EVENTS = 65_536  # decoded events kept for polls near the head
MAX_SCAN_PER_POLL = 10_000  # events a poll reads before answering with `next` moved on
CURSOR_SCAN_LIMIT = 256  # see `acknowledge`


class Wakeable(Protocol):
    """What `Waiters` wakes: a parked poll's future, or an open stream (`app.streams`)."""

    def done(self) -> bool:
        """True once woken (a stream: until it looks again)."""
        ...

    def set_result(self, result: None, /) -> None:
        """Wake it."""
        ...


class Waiters:
    """Parked long polls and open streams, by user key."""

    def __init__(self) -> None:
        # user key -> parked future (or open stream) -> the session that parked it
        self._by_user: dict[str, dict[Wakeable, int]] = {}

    async def wait(self, user_key: str, session: int, timeout_s: float) -> None:
        """Return when woken for this user or when the timeout passes."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        parked = self._by_user.setdefault(user_key, {})
        parked[future] = session
        try:
            async with asyncio.timeout(timeout_s):
                await future
        except TimeoutError:
            pass
        finally:
            parked.pop(future, None)
            if not parked and self._by_user.get(user_key) is parked:
                del self._by_user[user_key]

    def add(self, user_key: str, session: int, waiter: Wakeable) -> None:
        """Keep `waiter` (an open stream) among the user's until `remove`."""
        self._by_user.setdefault(user_key, {})[waiter] = session

    def remove(self, user_key: str, waiter: Wakeable) -> None:
        """Forget a waiter kept by `add` (nothing if it is not kept)."""
        parked = self._by_user.get(user_key)
        if parked is not None:
            parked.pop(waiter, None)
            if not parked:
                del self._by_user[user_key]

    def wake(self, user_keys: Iterable[str] | None) -> None:
        """Wake the polls of these users; None wakes every poll."""
        if user_keys is None:
            groups: Iterable[dict[Wakeable, int]] = list(self._by_user.values())
        else:
            groups = [g for key in user_keys if (g := self._by_user.get(key)) is not None]
        for group in groups:
            for future in group:
                if not future.done():
                    future.set_result(None)

    def wake_other_sessions(self, user_key: str, session: int | None) -> None:
        """Wake the user's polls except those of `session` (it caused what happened)."""
        for future, parked_by in self._by_user.get(user_key, {}).items():
            if parked_by != session and not future.done():
                future.set_result(None)

    def wake_session(self, user_key: str, session: int) -> None:
        """Wake the polls and streams of one session (it was closed)."""
        for future, parked_by in self._by_user.get(user_key, {}).items():
            if parked_by == session and not future.done():
                future.set_result(None)

    def parked(self, user_key: str) -> int:
        """How many polls of this user are waiting, and streams open."""
        return len(self._by_user.get(user_key, ()))

    def __len__(self) -> int:
        return sum(len(group) for group in self._by_user.values())


class Polling:
    """Long polls and read cursors; it follows the core (`on_staged`, `on_durable`)."""

    def __init__(self, core: Core) -> None:
        self._core = core
        self._log = core.event_log
        self.recent = RecentEvents(RECENT_EVENTS, max_bytes=core.settings.recent_events_max_bytes)
        self.waiters = Waiters()
        self.pending_cursors: dict[str, tuple[str, int, int]] = {}  # key -> name, offset, session
        self.closed = False

    def close(self) -> None:
        """Answer every parked poll now, and every later one at once."""
        self.closed = True
        self.waiters.wake(None)

    def on_staged(self, seen: Seen) -> None:
        self.recent.add(*seen)

    def on_durable(self, staged: Sequence[Seen]) -> None:
        """Wake the polls of everyone who may see one of these (durable) events.

        The audiences were computed when the events were staged. A cursor move
        wakes only the user's other sessions: the one that moved it does not
        get its own acknowledgement back.
        """
        audiences: set[str] = set()
        for _, _, event, audience in staged:
            if isinstance(event, CursorMoved):
                self.waiters.wake_other_sessions(name_key(event.user), event.session)
            elif isinstance(event, SessionClosed):  # its streams end
                self.waiters.wake_session(name_key(event.user), event.session)
            elif audience is None:
                self.waiters.wake(None)
                return
            else:
                audiences |= audience
        if audiences:
            self.waiters.wake(audiences)

    async def poll(
        self,
        session: Session,
        *,
        after: int,
        timeout_s: float | None = None,
        limit: int | None = None,
        log_id: str | None = None,
    ) -> EventsPage:
        """Events after `after` the user may see; waits up to `timeout_s` for some.

        Passing `after` acknowledges everything up to it for the user.
        Raises LogMismatchError, OffsetOutOfRangeError, ValidationError, and
        UnavailableError (a replica cannot fetch older events now).
        """
        self.check_from(log_id, after)
        limit = check_limit(
            limit, self._core.settings.events_limit_default, self._core.settings.events_limit_max
        )
        if timeout_s is None:
            timeout_s = self._core.settings.poll_timeout_default_s
        if not 0 <= timeout_s <= self._core.settings.poll_timeout_max_s:
            raise ValidationError(
                f"timeout must be between 0 and {self._core.settings.poll_timeout_max_s:g} seconds",
                field="timeout",
            )
        await self.reach(after)
        await self.load_from(after, acknowledging=True)
        self.acknowledge(session, after)
        deadline = time.monotonic() + timeout_s
        position = after
        while True:
            events, position, complete = self.collect(session, position, limit)
            remaining = deadline - time.monotonic()
            if events or not complete or remaining <= 0 or self.closed:
                return EventsPage(events=tuple(events), next=position, log=self._log.log_id)
            self.check_room_to_wait(session)
            await self.waiters.wait(session.user_key, session.id, remaining)
            await self.load_from(position)

    def check_from(self, log_id: str | None, after: int) -> None:
        """Check a position as a poll (or a stream) is asked for it, before it waits.

        Raises LogMismatchError, ValidationError (`after` below 0).
        """
        if log_id is not None and log_id != self._log.log_id:
            raise LogMismatchError(self._log.log_id, log_id)
        if after < 0:
            raise ValidationError("after must be 0 or more", field="after")

    async def reach(self, after: int) -> None:
        """Wait until `after` is durable here (a replica behind the one the client came from).

        Raises OffsetOutOfRangeError when `after` is above the head.
        """
        if after > self._log.durable_head and not await self._core.reach(after):
            raise OffsetOutOfRangeError(after, self._log.durable_head)

    async def load_from(self, after: int, *, acknowledging: bool = False) -> None:
        """Make what one `collect` after `after` reads readable until the next await.

        A replica holds only the newest events and fetches older ones here
        (with the stretch `acknowledge` may scan when `acknowledging`).
        Raises UnavailableError (the log's store did not answer in time).
        """
        first = after - CURSOR_SCAN_LIMIT if acknowledging else after
        await self._core.load(first, after + MAX_SCAN_PER_POLL)

    def check_room_to_wait(self, session: Session) -> None:
        """Raises RateLimitedError when the user's polls and streams are at their cap."""
        cap = self._core.settings.max_parked_polls_per_user
        if self.waiters.parked(session.user_key) >= cap:
            raise RateLimitedError(
                1.0, cap, what=f"at most {cap} long polls and streams of one user may wait at once"
            )

    def collect(
        self, session: Session, after: int, limit: int
    ) -> tuple[list[EventView], int, bool]:
        """Up to `limit` visible events after `after`, the `next` offset, and whether
        everything up to the head was read.

        `next` moves past events the user may not see. A long stretch of them
        is answered in steps of MAX_SCAN_PER_POLL, so one poll never reads
        without bound. A `cursor.moved` is not echoed back to the session
        whose acknowledgement caused it.
        """
        user_key = session.user_key
        upto = self._log.durable_head
        now = self._core.now()
        found: list[EventView] = []
        model = self._core.model
        entries = self.entries_between(after, upto, user_key)
        for scanned, (offset, ts, event, audience) in enumerate(entries, start=1):
            # The audience set answers most events (other users' cursor moves,
            # other rooms) in one lookup; `can_see` decides the rest.
            if (
                (audience is None or user_key in audience)
                and model.can_see(user_key, offset, event, now)
                and not (isinstance(event, CursorMoved) and event.session == session.id)
            ):
                found.append(event_view(model, offset, ts, event, user_key))
                if len(found) >= limit:
                    return found, offset, offset == upto
            if scanned >= MAX_SCAN_PER_POLL:
                return found, offset, offset == upto
        return found, max(upto, after), True

    def entries_between(self, after: int, upto: int, user_key: str) -> Iterator[Seen]:
        """Events with after < offset <= upto and who may see them, oldest first.

        Events meant for other users alone (their cursor moves, ...) may be
        left out; so are offsets compaction left empty. Raises
        OffsetOutOfRangeError when retention deleted the events after `after`.
        """
        first_recent = self.recent.first_offset
        if after + 1 < first_recent:
            model = self._core.model
            try:
                records = self._log.iter_from(after)
            except StoreOffsetOutOfRangeError as exc:  # retention deleted them
                raise OffsetOutOfRangeError(after, self._log.durable_head, deleted=True) from exc
            for record in records:
                if record.offset >= first_recent or record.offset > upto:
                    break
                event = decode(record.name, record.data)
                yield record.offset, record.ts, event, model.audience(record.offset, event)
        yield from self.recent.for_user(user_key, max(after, first_recent - 1), upto)

    def cursor_of(self, user_key: str) -> int:
        """The user's acknowledged offset, including what is not yet persisted."""
        pending = self.pending_cursors.get(user_key)
        persisted = self._core.model.cursor_of(user_key)
        return persisted if pending is None else max(persisted, pending[1])

    def acknowledge(self, session: Session, after: int) -> None:
        """Record that the user has seen everything up to `after` (coalesced).

        Only a move past something the user can see counts: acknowledging
        nothing but one's own `cursor.moved` must not move the cursor, or
        every session would answer each cursor event with another one.
        """
        cursor = self.cursor_of(session.user_key)
        if after <= cursor:
            return
        if after - cursor <= CURSOR_SCAN_LIMIT:
            now = self._core.now()
            try:
                if not any(
                    self._core.model.can_see(session.user_key, offset, event, now)
                    and not isinstance(event, CursorMoved)
                    for offset, _, event, _ in self.entries_between(cursor, after, session.user_key)
                ):
                    return
            except OffsetOutOfRangeError:
                pass  # the events after the cursor are deleted: `after` moves it on
        self.pending_cursors[session.user_key] = (session.user, after, session.id)

    async def flush_forever(self) -> None:
        """Persist pending cursors every `cursor_flush_interval_s`; cancel to stop."""
        while True:
            await asyncio.sleep(self._core.settings.cursor_flush_interval_s)
            if self.pending_cursors:
                try:
                    await self.flush()
                except (InsufficientStorageError, UnavailableError):
                    continue  # the disk is full, or NATS away: they stay pending, tried again
                except ServiceFailedError:
                    return

    async def flush(self, user_keys: Sequence[str] | None = None) -> None:
        """Persist the pending cursors of these users (all by default) now.

        Raises InsufficientStorageError, UnavailableError, ServiceFailedError (in each
        case they stay pending: a replica that rejoins the log carries them over).
        """
        if user_keys is None:
            user_keys = list(self.pending_cursors)
        taken = {k: p for k in user_keys if (p := self.pending_cursors.pop(k, None)) is not None}
        commands: list[Command] = [
            MoveCursor(user=user, cursor=cursor, session=by_session)
            for user, cursor, by_session in taken.values()
        ]
        if not commands:
            return
        try:
            await self._core.execute(commands)
        except (InsufficientStorageError, UnavailableError, ServiceFailedError):
            for key, pending in taken.items():  # unless a newer move came meanwhile
                self.pending_cursors.setdefault(key, pending)
            raise
