"""Polling: following `/events` by offset, surviving restarts and network trouble; `watch`.

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

`event_line` is how every event reads on the terminal: each feature says how
its own events read (its `EVENT_LINES`), and a type this client does not know
is named rather than dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Final, Protocol

from attrs import evolve, field, frozen

from client import messages, moderation, privacy, rooms, schedule
from client.api import POLL_MARGIN_S, ApiError
from client.context import EXIT_OK, Context, session_api, until_interrupted
from client.display import Display, EventLines
from client.event_stream import SseEvent, sse_events
from client.http import BadResponseError, encode_query
from client.identity import IdentityApi, Status
from client.jsonread import array, integer, number, obj, string
from client.messages import Message, message_line
from client.retry import Backoff, retrying
from client.room_book import room_book
from client.state import Session
from client.subcommand import Subcommand, poll_seconds, positive
from client.terminal import clock, json_line, printable

__all__ = [
    "DEFAULT_POLL_S",
    "PAGE_EVENTS",
    "RESYNC_CODES",
    "WATCH",
    "Event",
    "EventSource",
    "EventsPage",
    "Follower",
    "StreamOpener",
    "PollingApi",
    "SessionSink",
    "event_line",
    "watch",
]

RESYNC_CODES: Final = frozenset({"log_mismatch", "offset_out_of_range"})
DEFAULT_POLL_S: Final = 25.0
PAGE_EVENTS: Final = 100
# A stream that brings no byte for this long is given up and reopened (the
# server sends a heartbeat every --stream-heartbeat, 15 s by default).
STREAM_STALL_S: Final = 45.0
MAX_RECONNECT_S: Final = 60.0  # the most of a stream's `retry` the follower honours
# Answers that mean "no stream here" (an older server, or --no-event-stream).
_NO_STREAM: Final = frozenset({404, 405, 501})


@frozen(kw_only=True)
class Event:
    """One event of `/events`: its offset, time, type, and the raw object for `--json`."""

    offset: int
    ts: float
    type: str
    raw: Mapping[str, Any] = field(eq=False, repr=False)
    message: Message | None = None

    @classmethod
    def from_json(cls, value: object) -> Event:
        """Raises BadResponseError when `value` is not an event object."""
        fields = obj(value, "event")
        kind = string(fields, "type", "event")
        message = Message.from_json(fields.get("message")) if kind == "message.sent" else None
        return cls(
            offset=integer(fields, "offset", "event"),
            ts=number(fields, "ts", "event"),
            type=kind,
            raw=fields,
            message=message,
        )


@frozen(kw_only=True)
class EventsPage:
    """`GET /events`: the events after `after`, and the offset to ask from next."""

    events: tuple[Event, ...]
    next: int
    log: str

    @classmethod
    def from_json(cls, value: object) -> EventsPage:
        """Raises BadResponseError when `value` is not an events page."""
        fields = obj(value, "events page")
        return cls(
            events=tuple(Event.from_json(e) for e in array(fields, "events", "events page")),
            next=integer(fields, "next", "events page"),
            log=string(fields, "log", "events page"),
        )


class PollingApi(IdentityApi):
    """The long poll of `/events`; `status` (of `IdentityApi`) gives the head to resync at."""

    async def events(
        self, after: int, *, timeout_s: float, limit: int | None = None, log: str | None = None
    ) -> EventsPage:
        """Long poll for the events after `after` (this acknowledges `after`).

        Raises ApiError (offset_out_of_range, log_mismatch) and the errors of
        `HttpClient.request`.
        """
        query = encode_query({"after": after, "timeout": timeout_s, "limit": limit, "log": log})
        response = await self.call("GET", f"/events{query}", timeout_s=timeout_s + POLL_MARGIN_S)
        return EventsPage.from_json(response.json())

    def event_stream(self, after: int, log: str | None) -> AsyncIterator[SseEvent]:
        """The SSE events of `GET /events/stream` after `after`, on a connection of its own.

        The token goes in the Authorization header, never in the URL. Raises
        as `sse_events` (ApiError 404: the server offers no stream).
        """
        headers = [] if self.token is None else [("Authorization", f"Bearer {self.token}")]
        return sse_events(
            self.http.origin,
            f"/events/stream{encode_query({'after': after, 'log': log})}",
            headers=headers,
            timeout_s=STREAM_STALL_S,
            user_agent=self.http.user_agent,
        )


class EventSource(Protocol):
    """The two calls the follower makes (`PollingApi` in the program)."""

    async def events(
        self, after: int, *, timeout_s: float, limit: int | None = None, log: str | None = None
    ) -> EventsPage:
        """Long poll, as `PollingApi.events`."""
        ...

    async def status(self) -> Status:
        """The head and log id, as `IdentityApi.status`."""
        ...


StreamOpener = Callable[[int, str | None], AsyncIterator[SseEvent]]


class SessionSink(Protocol):
    """Where the follower saves its progress (`StateStore` in the program)."""

    def save(self, session: Session) -> None:
        """Persist `session`."""
        ...


class Follower:
    """Follows `/events` from the saved offset and hands each event to `on_event`.

    With `stream` it reads the event stream (one response, no request per
    event) and reopens it from the last id when it ends or fails; when the
    server offers none (404/405/501) it long-polls for the rest of its life.
    """

    def __init__(
        self,
        api: EventSource,
        session: Session,
        store: SessionSink,
        *,
        on_event: Callable[[Event], Awaitable[None]],
        notice: Callable[[str], None],
        poll_s: float = DEFAULT_POLL_S,
        stream: StreamOpener | None = None,
    ) -> None:
        self.api = api
        self.stream = stream
        self.reconnect_s = 0.0  # the stream's `retry`: the wait before reopening an ended one
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
            if self.stream is not None:
                await asyncio.sleep(self.reconnect_s)
                await retrying(
                    lambda: self._follow_stream(max_events), self.notice, backoff=self.backoff
                )
                continue
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

    async def _follow_stream(self, max_events: int | None) -> None:
        """Read one stream until it ends (the caller reopens it) or `max_events`.

        Each event is saved as it is handed over, so a reopened stream (from
        the saved offset, the stream's last id) brings no duplicate and skips
        nothing. Falls back to polls (self.stream = None) when there is no stream.
        """
        assert self.stream is not None
        try:
            async for sse in self.stream(self.session.offset, self.session.log):
                if self.backoff.reset():
                    self.notice("connection is back")
                if sse.retry is not None:
                    self.reconnect_s = min(MAX_RECONNECT_S, sse.retry / 1000)
                if sse.id is None or not sse.id.isdigit():
                    continue
                if sse.data is not None:
                    try:
                        event = Event.from_json(json.loads(sse.data))
                    except ValueError as exc:
                        raise BadResponseError(
                            f"an event of the stream is not JSON: {exc}"
                        ) from exc
                    await self.on_event(event)
                    self.delivered += 1
                    self._move_to(self.session.at(int(sse.id)))
                else:
                    # Past events we may not see: kept in memory (the next stream
                    # skips them too), not saved, so that a profile disconnected
                    # meanwhile is not written back.
                    self.session = self.session.at(int(sse.id))
                if max_events is not None and self.delivered >= max_events:
                    return
        except ApiError as exc:
            if exc.status in _NO_STREAM:
                self.stream = None
                return
            if exc.code not in RESYNC_CODES:
                raise
            await self._resync(exc)

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
            await self._resync(exc)
            return None

    async def _resync(self, exc: ApiError) -> None:
        status = await self.api.status()
        self.notice(
            f"the server's log does not match ours ({exc.message}); "
            f"resynchronised at offset {status.offset}, events in between are skipped"
        )
        self._move_to(evolve(self.session, offset=status.offset, log=status.log))


_EVENT_LINES: Final[EventLines] = {
    **rooms.EVENT_LINES,
    **messages.EVENT_LINES,
    **schedule.EVENT_LINES,
    **moderation.EVENT_LINES,
    **privacy.EVENT_LINES,
    "cursor.moved": lambda fields, display: None,  # bookkeeping between one's own sessions
    "room.read": lambda fields, display: None,
}


def event_line(event: Event, display: Display) -> str | None:
    """The line to show for an event, or None for events people need not see."""
    if event.message is not None:
        return message_line(event.message, display)
    render = _EVENT_LINES.get(event.type)
    if render is None:
        return display.system(f"{clock(event.ts)} * {printable(event.type)}")
    line = render(event.raw, display)
    if line is None or event.type in messages.TIMED_EVENTS:
        return line
    return display.system(f"{clock(event.ts)} {printable(line)}")


# `watch` without --all starts from now when the profile is this far behind.
WATCH_BACKLOG_MAX: Final = 1000


def alert_summary(event: Event, display: Display) -> str | None:
    """What to ring about an event: a direct message or a mention from someone else."""
    message = event.message
    if message is None or not display.wants_alert(
        room=message.room, author=message.author, text=message.text
    ):
        return None
    return f"{display.spelled(message.author)} in {display.label(message.room)}: {message.text}"


async def watch(
    ctx: Context,
    *,
    poll_s: float,
    count: int | None,
    from_now: bool,
    replay_all: bool,
    poll_only: bool = False,
) -> int:
    """Print events as they arrive until interrupted (or after `count` events).

    From where the profile left off; from now with `from_now`, or when more
    than `WATCH_BACKLOG_MAX` offsets were missed (unless `replay_all`).
    Follows the event stream where the server offers it, else long-polls.
    """
    session = ctx.load()
    async with session_api(ctx, session, PollingApi) as api:
        book = await room_book(ctx, api, session.user)
        display = book.display
        if from_now or not replay_all:
            head = await ctx.retry(api.status)
            behind = head.offset - session.offset
            if head.log == session.log and (from_now or behind > WATCH_BACKLOG_MAX):
                if behind > 0 and not from_now:
                    ctx.notice(
                        f"skipped {behind} older events (history shows the messages; "
                        "--all replays them)"
                    )
                session = evolve(session, offset=max(session.offset, head.offset))
                ctx.store.save(session)

        async def show(event: Event) -> None:
            if ctx.json:
                ctx.say(json_line(dict(event.raw)))
                return
            line = event_line(event, display)
            if line is not None:
                ctx.say(line)
                summary = alert_summary(event, display)
                if summary is not None:
                    ctx.ring(summary)

        follower = Follower(
            api,
            session,
            ctx.store,
            on_event=show,
            notice=ctx.notice,
            poll_s=poll_s,
            stream=None if poll_only else api.event_stream,
        )
        await until_interrupted(follower.run(count))
    return EXIT_OK


def _watch_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--poll", type=poll_seconds, default=25.0, help="long-poll timeout in seconds"
    )
    parser.add_argument(
        "--poll-only",
        action="store_true",
        help="long-poll /events even when the server offers the event stream",
    )
    parser.add_argument("--count", type=positive, default=None, help="exit after this many events")
    start = parser.add_mutually_exclusive_group()
    start.add_argument("--from-now", action="store_true", help="only what happens from now on")
    start.add_argument(
        "--all",
        dest="replay_all",
        action="store_true",
        help=f"replay everything missed, even more than {WATCH_BACKLOG_MAX} events",
    )


WATCH: Final = Subcommand(
    name="watch",
    summary="print events as they arrive (Ctrl-C stops)",
    details="From where this profile left\n"
    "off; the position is saved as events are printed, so the next run resumes\n"
    f"without duplicates or gaps. More than {WATCH_BACKLOG_MAX} events behind, it starts from\n"
    "now (--all replays them; --from-now always starts from now). With --json,\n"
    "one event object per line. A direct message or a mention rings the bell\n"
    "(--bell never turns it off).",
    arguments=_watch_arguments,
    run=lambda args, ctx, stdin: watch(
        ctx,
        poll_s=args.poll,
        count=args.count,
        from_now=args.from_now,
        replay_all=args.replay_all,
        poll_only=args.poll_only,
    ),
)
