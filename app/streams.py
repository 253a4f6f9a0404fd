"""Event streams: what `/events` returns, pushed as it becomes durable, on one open request.

How this works: a stream is a long poll that keeps answering. It opens as a
poll would (the log id, a position not above the head, the user's cap of
waiting polls, which its whole life counts against) and acknowledges its
starting position as a poll does. Then it walks the events after its
position with the poll's `collect` and hands out each page; when there is
nothing to hand out it parks in the poll's `Waiters` (one entry for its
whole life, woken by the same durable appends) until something is. A page
is acknowledged, the user's cursor moved to its `next`, when the transport
asks for the page after it, which it does once the page is written: the
moment a polling client would ask again. With nothing to say for
`stream_heartbeat_s` it hands out an empty page (a heartbeat). It ends
after `stream_lifetime_s`, when its session is closed, and at shutdown.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from app.core import Core
from app.polling import Polling
from app.views import EventsPage, Session

__all__ = ["EventStream", "Streams"]


class _Waker:
    """An open stream as `Waiters` sees it: woken since it last looked, and its wait."""

    __slots__ = ("_future", "woken")

    def __init__(self) -> None:
        self.woken = False
        self._future: asyncio.Future[None] | None = None

    def done(self) -> bool:
        return self.woken

    def set_result(self, result: None, /) -> None:
        self.woken = True
        future = self._future
        if future is not None and not future.done():
            future.set_result(None)

    async def wait(self, timeout_s: float) -> None:
        """Return when woken (at once if woken already) or after `timeout_s`."""
        if self.woken or timeout_s <= 0:
            return
        loop = asyncio.get_running_loop()
        self._future = future = loop.create_future()
        # One timer handle: cheaper than asyncio.timeout for a wait that is woken early.
        timer = loop.call_later(timeout_s, _wake_up, future)
        try:
            await future
        finally:
            timer.cancel()
            self._future = None


def _wake_up(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class EventStream:
    """Pages of events for one session as they become durable; iterate it, then `close` it."""

    def __init__(
        self,
        polling: Polling,
        core: Core,
        session: Session,
        first: EventsPage,
        *,
        after: int,
        limit: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._polling = polling
        self._core = core
        self.session = session
        self._pending: EventsPage | None = first
        self.position = first.next
        # What was handed out (acknowledged when the next page is asked for), and what was.
        self._handed = after
        self._acknowledged = after
        self._limit = limit
        self._clock = clock
        settings = core.settings
        self._heartbeat_s = settings.stream_heartbeat_s
        self._ends_at = clock() + settings.stream_lifetime_s
        self._last_page_at = clock()
        self._waker = _Waker()
        self._closed = False
        polling.waiters.add(session.user_key, session.id, self._waker)

    def close(self) -> None:
        """Stop counting against the user's cap (never raises; twice is once)."""
        if not self._closed:
            self._closed = True
            self._polling.waiters.remove(self.session.user_key, self._waker)

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> EventsPage:
        """The next page: events, or none when a heartbeat is due.

        Raises StopAsyncIteration when the stream ends (lifetime, its session
        closed, shutdown), OffsetOutOfRangeError when retention deleted what
        it was about to read.
        """
        if self._acknowledged < self._handed:
            await self._polling.load_from(self._handed, acknowledging=True)
            self._polling.acknowledge(self.session, self._handed)
            self._acknowledged = self._handed
        page, self._pending = self._pending, None
        while page is None:
            if self._ended():
                self.close()
                raise StopAsyncIteration
            self._waker.woken = False
            await self._polling.load_from(self.position)
            events, position, complete = self._polling.collect(
                self.session, self.position, self._limit
            )
            self.position = position
            now = self._clock()
            if events or now - self._last_page_at >= self._heartbeat_s:
                page = EventsPage(events=tuple(events), next=position, log=self._core.log_id)
            elif not complete:
                await asyncio.sleep(0)  # a long stretch of others' events: let others run
            else:
                due = min(self._last_page_at + self._heartbeat_s, self._ends_at)
                await self._waker.wait(due - now)
        self._last_page_at = self._clock()
        self._handed = page.next
        return page

    def _ended(self) -> bool:
        if self._polling.closed or self._clock() >= self._ends_at:
            return True
        sessions = self._core.model.users.open_by_user.get(self.session.user_key, {})
        return self.session.id not in sessions


class Streams:
    """Opens event streams (`GET /events/stream`); they share the polls' waiters and cap."""

    def __init__(self, core: Core, polling: Polling) -> None:
        self._core = core
        self._polling = polling

    async def open(self, session: Session, *, after: int, log_id: str | None) -> EventStream:
        """A stream of the events after `after`, which it acknowledges as a poll would.

        Raises LogMismatchError, OffsetOutOfRangeError (above the head, or
        deleted by retention), ValidationError, RateLimitedError (the user's
        polls and streams are at their cap).
        """
        polling = self._polling
        polling.check_from(log_id, after)
        await polling.reach(after)
        polling.check_room_to_wait(session)
        await polling.load_from(after, acknowledging=True)
        polling.acknowledge(session, after)
        limit = self._core.settings.events_limit_default
        events, position, _ = polling.collect(session, after, limit)
        first = EventsPage(events=tuple(events), next=position, log=self._core.log_id)
        return EventStream(polling, self._core, session, first, after=after, limit=limit)
