"""The scriptable subcommands: each does one thing and returns an exit status."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Final, TextIO, TypeVar

from attrs import define

from client.api import ApiError, ChatApi
from client.follow import Follower, retrying
from client.http import HttpClient, HttpClientError, Origin
from client.models import Event, Message
from client.render import event_line, json_line, message_line, room_lines, status_lines
from client.state import Session, StateError, StateStore

__all__ = [
    "EXIT_OK",
    "EXIT_REFUSED",
    "EXIT_UNREACHABLE",
    "EXIT_USAGE",
    "Context",
    "UsageError",
    "connect",
    "direct_room",
    "new_idempotency_key",
    "session_api",
    "until_interrupted",
    "disconnect",
    "history",
    "rooms",
    "send",
    "status",
    "watch",
]

EXIT_OK: Final = 0
EXIT_REFUSED: Final = 1  # the server said no (or the session file is broken)
EXIT_USAGE: Final = 2
EXIT_UNREACHABLE: Final = 3
T = TypeVar("T")


class UsageError(Exception):
    """The command cannot run as asked (not connected, bad server URL, ...)."""


@define(kw_only=True)
class Context:
    """What every command needs: the profile's session file and the output streams."""

    store: StateStore
    out: TextIO
    err: TextIO
    json: bool = False
    timeout_s: float = 10.0
    # One-shot commands try this often when the network fails, then exit 3.
    attempts: int = 4

    def say(self, line: str) -> None:
        """A line of output (stdout)."""
        print(line, file=self.out, flush=True)

    def notice(self, line: str) -> None:
        """A line for the human (stderr), never mixed into the output."""
        print(f"chat: {line}", file=self.err, flush=True)

    def load(self) -> Session:
        """The profile's session.

        Raises UsageError when the profile is not connected, StateError when
        its file is broken.
        """
        session = self.store.load()
        if session is None:
            raise UsageError(
                f"profile {self.store.profile!r} is not connected; "
                "run `chat connect NAME [--server URL]` first"
            )
        return session

    async def retry(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """`attempt` with a few retries on network errors (one-shot commands)."""
        return await retrying(attempt, self.notice, max_attempts=self.attempts)


@asynccontextmanager
async def session_api(ctx: Context, session: Session) -> AsyncIterator[ChatApi]:
    """An authenticated API client for the stored session."""
    try:
        origin = Origin.parse(session.server)
    except ValueError as exc:
        raise StateError(f"the stored server URL is invalid: {exc}") from exc
    async with HttpClient(origin, timeout_s=ctx.timeout_s) as http:
        yield ChatApi(http, session.token)


def new_idempotency_key() -> str:
    """A random key for one typed message (reused by every retry of it)."""
    return secrets.token_hex(16)


def _messages_json(messages: tuple[Message, ...]) -> list[object]:
    return [dict(m.raw) for m in messages]


async def connect(ctx: Context, *, name: str, password: str, server: str) -> int:
    """Open a session as `name` and store it in the profile."""
    try:
        origin = Origin.parse(server)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    async with HttpClient(origin, timeout_s=ctx.timeout_s) as http:
        api = ChatApi(http)
        welcome = await ctx.retry(lambda: api.connect(name, password))
        # What is printed below has been seen: acknowledge it, so that unread
        # counts drop. When the unread list was cut short, only up to its end.
        seen = welcome.offset
        if welcome.unread_truncated and welcome.unread:
            seen = welcome.unread[-1].id
        with contextlib.suppress(ApiError, HttpClientError):
            await api.events(seen, timeout_s=0, limit=1, log=welcome.log)
    try:
        previous = ctx.store.load()
    except StateError:
        previous = None
    # Watch and interactive mode go on after what was shown here.
    ctx.store.save(
        Session(
            server=str(origin),
            log=welcome.log,
            token=welcome.token,
            user=welcome.user,
            offset=seen,
        )
    )
    if previous is not None and previous.server == str(origin):
        await _revoke_quietly(ctx, previous)
    if ctx.json:
        ctx.say(
            json_line(
                {
                    "user": welcome.user,
                    "server": str(origin),
                    "log": welcome.log,
                    "offset": welcome.offset,
                    "new_user": welcome.new_user,
                    "general": _messages_json(welcome.general),
                    "unread": _messages_json(welcome.unread),
                    "unread_truncated": welcome.unread_truncated,
                }
            )
        )
        return EXIT_OK
    hello = "registered and connected" if welcome.new_user else "connected"
    ctx.say(f"{hello} to {origin} as {welcome.user}")
    if welcome.general:
        ctx.say("-- last messages in general --")
        for message in welcome.general:
            ctx.say(message_line(message, welcome.user))
    shown = {m.id for m in welcome.general}
    unread = [m for m in welcome.unread if m.id not in shown]
    if unread:
        ctx.say(f"-- unread ({len(welcome.unread)}) --")
        for message in unread:
            ctx.say(message_line(message, welcome.user))
    if welcome.unread_truncated:
        ctx.say("-- more unread messages than shown --")
    return EXIT_OK


async def _revoke_quietly(ctx: Context, session: Session) -> None:
    # The profile's previous token would otherwise stay valid (and "online") forever.
    with contextlib.suppress(HttpClientError, ApiError, StateError):
        async with session_api(ctx, session) as api:
            await api.disconnect()


async def disconnect(ctx: Context) -> int:
    """Revoke the stored session's token and forget it."""
    session = ctx.load()
    async with session_api(ctx, session) as api:
        try:
            await ctx.retry(api.disconnect)
        except ApiError as exc:
            if exc.code != "unauthorized":
                raise
            ctx.notice("the server had already forgotten this session")
    ctx.store.delete()
    if ctx.json:
        ctx.say(json_line({"user": session.user, "server": session.server, "disconnected": True}))
    else:
        ctx.say(f"disconnected {session.user} from {session.server}")
    return EXIT_OK


async def send(ctx: Context, *, text: str, room: str | None, to: str | None) -> int:
    """Send one message (retried with the same Idempotency-Key)."""
    session = ctx.load()
    key = new_idempotency_key()
    async with session_api(ctx, session) as api:
        message = await ctx.retry(lambda: api.send(text, room=room, to=to, idempotency_key=key))
    ctx.say(json_line(dict(message.raw)) if ctx.json else message_line(message, session.user))
    return EXIT_OK


def direct_room(me: str, other: str) -> str:
    """The id of the direct room of two users (names casefolded and sorted)."""
    first, second = sorted((me.casefold(), other.casefold()))
    return f"dm:{first}:{second}"


async def history(
    ctx: Context, *, room: str, to: str | None = None, limit: int, before: int | None = None
) -> int:
    """The last `limit` messages of a room (or of the direct room with `to`), oldest first.

    With `before`, the page older than that message id; the id to page on is printed.
    """
    session = ctx.load()
    if to is not None:
        room = direct_room(session.user, to)
    async with session_api(ctx, session) as api:
        page = await ctx.retry(lambda: api.history(room, limit=limit, before=before))
    if ctx.json:
        ctx.say(json_line(dict(page.raw)))
        return EXIT_OK
    for message in reversed(page.messages):
        ctx.say(message_line(message, session.user))
    if not page.messages:
        ctx.notice(f"no messages in {room}")
    if page.next_before is not None:
        ctx.notice(f"older messages: add --before {page.next_before}")
    return EXIT_OK


async def status(ctx: Context) -> int:
    """Who the profile is, the cursor, rooms and who is online."""
    session = ctx.load()
    async with session_api(ctx, session) as api:
        info = await ctx.retry(api.status)
    if ctx.json:
        ctx.say(json_line({**info.raw, "server": session.server, "offset_seen": session.offset}))
        return EXIT_OK
    for line in status_lines(info, session.server):
        ctx.say(line)
    ctx.say(f"this profile has processed events up to offset {session.offset}")
    return EXIT_OK


async def rooms(ctx: Context) -> int:
    """The rooms the user is a member of, with unread counts."""
    session = ctx.load()
    async with session_api(ctx, session) as api:
        info = await ctx.retry(api.status)
    if ctx.json:
        ctx.say(json_line({"rooms": [dict(r.raw) for r in info.rooms]}))
        return EXIT_OK
    for line in room_lines(info.rooms, info.user):
        ctx.say(line)
    return EXIT_OK


async def watch(ctx: Context, *, poll_s: float, count: int | None) -> int:
    """Print events as they arrive until interrupted (or after `count` events)."""
    session = ctx.load()

    async def show(event: Event) -> None:
        if ctx.json:
            ctx.say(json_line(dict(event.raw)))
            return
        line = event_line(event, session.user)
        if line is not None:
            ctx.say(line)

    async with session_api(ctx, session) as api:
        follower = Follower(
            api, session, ctx.store, on_event=show, notice=ctx.notice, poll_s=poll_s
        )
        await until_interrupted(follower.run(count))
    return EXIT_OK


async def until_interrupted(work: Awaitable[None]) -> bool:
    """Run `work` until it ends or SIGINT/SIGTERM arrives; True when interrupted.

    Raises whatever `work` raises.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(work)
    stop = asyncio.Event()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        stopper.cancel()
        task.cancel()
        await asyncio.gather(stopper, return_exceptions=True)
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return stop.is_set()
