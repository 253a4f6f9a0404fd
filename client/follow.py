"""Following the event stream by offset, surviving restarts and network trouble.

How this works: the session file holds the offset of the last event this
client has processed. Each long poll asks for the events after it and passes
the log id; every event is handed to the caller in order, then the offset
moves to `next` and is saved. A restart of the client resumes from the saved
offset, so nothing is shown twice and nothing is skipped.

When the server answers `log_mismatch` (another log: a restore or a new data
directory) or `offset_out_of_range` (our offset is past its head), the saved
position means nothing there any more: we ask `/status` for the current head
and log id and go on from there, telling the user. Network errors are retried
with capped exponential backoff, with a notice on the first failure and one
when the connection is back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Final, Protocol, TypeVar

from attrs import define, evolve

from client.api import ApiError
from client.http import NetworkError
from client.models import Event, EventsPage, Status
from client.state import Session

__all__ = ["RESYNC_CODES", "Backoff", "EventSource", "Follower", "SessionSink", "retrying"]

RESYNC_CODES: Final = frozenset({"log_mismatch", "offset_out_of_range"})
DEFAULT_POLL_S: Final = 25.0
PAGE_EVENTS: Final = 100
T = TypeVar("T")


class EventSource(Protocol):
    """The two calls the follower makes (`ChatApi` in the program)."""

    async def events(
        self, after: int, *, timeout_s: float, limit: int | None = None, log: str | None = None
    ) -> EventsPage:
        """Long poll, as `ChatApi.events`."""
        ...

    async def status(self) -> Status:
        """The head and log id, as `ChatApi.status`."""
        ...


class SessionSink(Protocol):
    """Where the follower saves its progress (`StateStore` in the program)."""

    def save(self, session: Session) -> None:
        """Persist `session`."""
        ...


@define(kw_only=True)
class Backoff:
    """Capped exponential delays: 0.2, 0.4, 0.8 ... 5 s."""

    initial_s: float = 0.2
    cap_s: float = 5.0
    factor: float = 2.0
    failures: int = 0

    def next_delay(self) -> float:
        """The delay before the next attempt (and count one more failure)."""
        delay = min(self.cap_s, self.initial_s * self.factor**self.failures)
        self.failures += 1
        return delay

    def reset(self) -> bool:
        """Forget the failures; True when there were any."""
        had, self.failures = self.failures > 0, 0
        return had


async def retrying(
    attempt: Callable[[], Awaitable[T]],
    notice: Callable[[str], None],
    *,
    backoff: Backoff | None = None,
    max_attempts: int | None = None,
) -> T:
    """Run `attempt` until it does not raise NetworkError.

    Raises the last NetworkError after `max_attempts` (None: never gives up),
    and whatever else `attempt` raises.
    """
    backoff = backoff or Backoff()
    while True:
        try:
            result = await attempt()
        except NetworkError as exc:
            if max_attempts is not None and backoff.failures + 1 >= max_attempts:
                raise
            delay = backoff.next_delay()
            notice(f"{exc}; retrying in {delay:.1f} s")
            await asyncio.sleep(delay)
            continue
        if backoff.reset():
            notice("connection is back")
        return result


class Follower:
    """Long-polls `/events` from the saved offset and hands each event to `on_event`."""

    def __init__(
        self,
        api: EventSource,
        session: Session,
        store: SessionSink,
        *,
        on_event: Callable[[Event], Awaitable[None]],
        notice: Callable[[str], None],
        poll_s: float = DEFAULT_POLL_S,
    ) -> None:
        self.api = api
        self.session = session
        self.store = store
        self.on_event = on_event
        self.notice = notice
        self.poll_s = poll_s
        self.backoff = Backoff()
        self.delivered = 0

    def _move_to(self, session: Session) -> None:
        if session != self.session:
            self.session = session
            self.store.save(session)

    async def run(self, max_events: int | None = None) -> None:
        """Follow until cancelled, or until `max_events` events were handed over.

        Raises ApiError for answers other than a resync (e.g. `unauthorized`)
        and StateError when the session file cannot be written.
        """
        while max_events is None or self.delivered < max_events:
            page = await retrying(self._poll, self.notice, backoff=self.backoff)
            if page is None:
                continue  # resynchronised
            for event in page.events:
                if max_events is not None and self.delivered >= max_events:
                    return
                await self.on_event(event)
                self.delivered += 1
                # Saved per event: stopping between two events of a page loses nothing.
                if max_events is not None:
                    self._move_to(self.session.at(event.offset))
            self._move_to(evolve(self.session, offset=page.next, log=page.log))

    async def _poll(self) -> EventsPage | None:
        try:
            return await self.api.events(
                self.session.offset,
                timeout_s=self.poll_s,
                limit=PAGE_EVENTS,
                log=self.session.log,
            )
        except ApiError as exc:
            if exc.code not in RESYNC_CODES:
                raise
            status = await self.api.status()
            self.notice(
                f"the server's log does not match ours ({exc.message}); "
                f"resynchronised at offset {status.offset}, events in between are skipped"
            )
            self._move_to(evolve(self.session, offset=status.offset, log=status.log))
            return None
