"""Identity: connecting (registering on first use), disconnecting, status and sessions.

`chat connect` opens a session and keeps its token in the profile's session
file (`client.state`), with the offset up to which what it printed has been
seen, so that `watch` and interactive mode go on from there. Connecting a
profile again revokes its previous token; `chat disconnect` revokes the
current one and forgets it.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import os
import time
from collections.abc import Mapping
from typing import Any, Final, TextIO

from attrs import field, frozen

from client.api import POLL_MARGIN_S, Api, ApiError
from client.context import EXIT_OK, Context, UsageError, session_api
from client.display import Display
from client.http import HttpClient, HttpClientError, Origin, encode_query
from client.jsonread import (
    array,
    flag,
    integer,
    nullable_array,
    nullable_number,
    number,
    obj,
    string,
    user_name,
)
from client.messages import Message, message_line
from client.rooms import Room
from client.state import Session, StateError
from client.subcommand import Subcommand
from client.terminal import json_line, wait_text, when

__all__ = [
    "CONNECT",
    "DEFAULT_SERVER",
    "DISCONNECT",
    "STATUS",
    "IdentityApi",
    "OpenSession",
    "Status",
    "Welcome",
    "connect",
    "disconnect",
    "status",
    "status_lines",
]

DEFAULT_SERVER: Final = "http://127.0.0.1:8000"


@frozen(kw_only=True)
class OpenSession:
    """One open session of the user."""

    id: int
    opened_at: float
    current: bool

    @classmethod
    def from_json(cls, value: object) -> OpenSession:
        """Raises BadResponseError when `value` is not a session object."""
        fields = obj(value, "session")
        return cls(
            id=integer(fields, "id", "session"),
            opened_at=number(fields, "opened_at", "session"),
            current=flag(fields, "current"),
        )


@frozen(kw_only=True)
class Status:
    """`GET /status`."""

    user: str
    log: str
    offset: int
    cursor: int
    rooms: tuple[Room, ...]
    online: tuple[str, ...]
    sessions: tuple[OpenSession, ...]
    last_seen: tuple[tuple[str, float], ...] = ()
    banned_until: float | None = None
    general: tuple[int, int, float | None] | None = None  # limit, remaining, resets_at
    raw: Mapping[str, Any] = field(factory=dict, eq=False, repr=False)

    @classmethod
    def from_json(cls, value: object) -> Status:
        """Raises BadResponseError when `value` is not a status object."""
        fields = obj(value, "status")
        online = array(fields, "online", "status")
        sessions = nullable_array(fields, "sessions", "status") or ()
        return cls(
            user=user_name(fields.get("user"), "status.user"),
            log=string(fields, "log", "status"),
            offset=integer(fields, "offset", "status"),
            cursor=integer(fields, "cursor", "status"),
            rooms=tuple(Room.from_json(r) for r in array(fields, "rooms", "status")),
            online=tuple(user_name(u, "status.online[]") for u in online),
            sessions=tuple(OpenSession.from_json(s) for s in sessions),
            last_seen=tuple(
                (user_name(s.get("name"), "last_seen[]"), number(s, "ts", "last_seen[]"))
                for s in (nullable_array(fields, "last_seen", "status") or ())
                if isinstance(s, dict)
            ),
            banned_until=nullable_number(fields, "banned_until", "status"),
            general=_quota(fields.get("general")),
            raw=fields,
        )


def _quota(value: object) -> tuple[int, int, float | None] | None:
    if not isinstance(value, dict):
        return None
    return (
        integer(value, "limit", "general"),
        integer(value, "remaining", "general"),
        nullable_number(value, "resets_at", "general"),
    )


@frozen(kw_only=True)
class Welcome:
    """`POST /connect`."""

    token: str
    user: str
    log: str
    offset: int
    cursor: int
    general: tuple[Message, ...]
    unread: tuple[Message, ...]
    unread_truncated: bool
    rooms: tuple[Room, ...]
    new_user: bool = False

    @classmethod
    def from_json(cls, value: object, *, new_user: bool = False) -> Welcome:
        """Raises BadResponseError when `value` is not a connect answer."""
        fields = obj(value, "connect")
        general = obj(fields.get("general"), "connect.general")
        return cls(
            token=string(fields, "token", "connect"),
            user=user_name(fields.get("user"), "connect.user"),
            log=string(fields, "log", "connect"),
            offset=integer(fields, "offset", "connect"),
            cursor=integer(fields, "cursor", "connect"),
            general=tuple(Message.from_json(m) for m in array(general, "messages", "general")),
            unread=tuple(Message.from_json(m) for m in array(fields, "unread", "connect")),
            unread_truncated=flag(fields, "unread_truncated"),
            rooms=tuple(Room.from_json(r) for r in array(fields, "rooms", "connect")),
            new_user=new_user,
        )


class IdentityApi(Api):
    """The endpoints of sessions: connect, disconnect, status."""

    async def connect(self, name: str, password: str) -> Welcome:
        """Open a session (registering `name` on first use) and keep its token.

        Raises ApiError (validation_failed, bad_credentials) and the errors of
        `HttpClient.request`.
        """
        response = await self.call("POST", "/connect", {"name": name, "password": password})
        welcome = Welcome.from_json(response.json(), new_user=response.status == 201)
        self.token = welcome.token
        return welcome

    async def disconnect(self) -> None:
        """Revoke this session's token.

        Raises ApiError (unauthorized) and the errors of `HttpClient.request`.
        """
        await self.call("POST", "/disconnect")

    async def status(self) -> Status:
        """The user's rooms, cursor, who is online.

        Raises ApiError and the errors of `HttpClient.request`.
        """
        return Status.from_json((await self.call("GET", "/status")).json())

    async def acknowledge(self, offset: int, *, log: str) -> None:
        """Mark everything up to `offset` as seen (unread counts drop).

        A poll of `/events` that does not wait (`client.polling` follows
        them); raises ApiError and the errors of `HttpClient.request`.
        """
        query = encode_query({"after": offset, "timeout": 0, "limit": 1, "log": log})
        await self.call("GET", f"/events{query}", timeout_s=POLL_MARGIN_S)


def status_lines(status: Status, server: str, *, now: float | None = None) -> list[str]:
    """What `chat status` shows: times in local time, waits as people say them."""
    current = time.time() if now is None else now
    display = Display(me=status.user)
    for room in status.rooms:
        display.learn_room(room.id, room.name, room.kind, room.members)
    unread = sum(room.unread or 0 for room in status.rooms)
    lines = [
        f"{status.user} on {server} (log {status.log})",
        f"offset {status.offset}, cursor {status.cursor}, {unread} unread",
        f"online: {', '.join(status.online) or '-'}",
    ]
    online = {name.casefold() for name in status.online}
    seen = [
        f"{name} {_ago(current - ts)}"
        for name, ts in status.last_seen
        if name.casefold() not in online
    ]
    if seen:
        lines.append(f"last seen: {', '.join(seen[:10])}")
    lines.append(f"rooms: {', '.join(display.label(r.id) for r in status.rooms) or '-'}")
    lines.append(f"open sessions: {len(status.sessions)}")
    if status.banned_until is not None and status.banned_until > current:
        lines.append(
            f"banned from sending until {when(status.banned_until, current)} "
            f"(in {wait_text(status.banned_until - current)})"
        )
    quota = status.general
    if quota is not None:
        limit, remaining, resets_at = quota
        resets = (
            "" if resets_at is None else f", all of them again in {wait_text(resets_at - current)}"
        )
        lines.append(f"general: {remaining} of {limit} messages left in this window{resets}")
    return lines


def _ago(seconds: float) -> str:
    return "just now" if seconds < 60 else f"{wait_text(seconds)} ago"


def _messages_json(messages: tuple[Message, ...]) -> list[object]:
    return [dict(m.raw) for m in messages]


def _profile_session(ctx: Context) -> Session | None:
    try:
        return ctx.store.load()
    except StateError:
        return None


async def connect(ctx: Context, *, name: str, password: str, server: str | None) -> int:
    """Open a session as `name` and store it in the profile.

    Without `server`: the profile's own server, else $CHAT_SERVER, else the default.
    """
    previous = _profile_session(ctx)
    if server is None:
        server = previous.server if previous is not None else None
        server = server or os.environ.get("CHAT_SERVER") or DEFAULT_SERVER
    try:
        origin = Origin.parse(server)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    async with HttpClient(origin, timeout_s=ctx.timeout_s) as http:
        api = IdentityApi(http)
        welcome = await ctx.retry(lambda: api.connect(name, password))
        # What is printed below has been seen: acknowledge it, so that unread
        # counts drop. When the unread list was cut short, only up to its end.
        seen = welcome.offset
        if welcome.unread_truncated and welcome.unread:
            seen = welcome.unread[-1].id
        with contextlib.suppress(ApiError, HttpClientError):
            await api.acknowledge(seen, log=welcome.log)
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
    if previous is not None and previous.user.casefold() != welcome.user.casefold():
        ctx.notice(
            f"this profile was {previous.user}'s on {previous.server}; it is {welcome.user}'s "
            "now (--profile keeps several)"
        )
    elif previous is not None and previous.server != str(origin):
        ctx.notice(f"this profile now uses {origin} (it used {previous.server})")
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
    display = ctx.display(welcome.user)
    for room in welcome.rooms:
        display.learn_room(room.id, room.name, room.kind, room.members)
    # What is listed under "unread" is exactly what is unread, counted as listed.
    unread_ids = {m.id for m in welcome.unread}
    general = [m for m in welcome.general if m.id not in unread_ids]
    if general:
        ctx.say("-- last messages in general --")
        for message in general:
            ctx.say(message_line(message, display))
    if welcome.unread:
        more = "+" if welcome.unread_truncated else ""
        ctx.say(f"-- unread ({len(welcome.unread)}{more}) --")
        for message in welcome.unread:
            ctx.say(message_line(message, display))
    if welcome.unread_truncated:
        ctx.say("-- more unread messages than shown --")
    return EXIT_OK


async def _revoke_quietly(ctx: Context, session: Session) -> None:
    # The profile's previous token would otherwise stay valid (and "online") forever.
    with contextlib.suppress(HttpClientError, ApiError, StateError):
        async with session_api(ctx, session, IdentityApi) as api:
            await api.disconnect()


async def disconnect(ctx: Context) -> int:
    """Revoke the stored session's token and forget it."""
    session = ctx.load()
    async with session_api(ctx, session, IdentityApi) as api:
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


async def status(ctx: Context) -> int:
    """Who the profile is, the cursor, rooms and who is online."""
    session = ctx.load()
    async with session_api(ctx, session, IdentityApi) as api:
        info = await ctx.retry(api.status)
    if ctx.json:
        ctx.say(json_line({**info.raw, "server": session.server, "offset_seen": session.offset}))
        return EXIT_OK
    for line in status_lines(info, session.server):
        ctx.say(line)
    ctx.say(f"this profile has processed events up to offset {session.offset}")
    return EXIT_OK


def _read_password(args: argparse.Namespace, stdin: TextIO) -> str:
    if args.password_stdin:
        line = stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    if not stdin.isatty():
        raise UsageError("no terminal to ask for the password; use --password-stdin")
    return getpass.getpass(f"password for {args.name}: ")


def _connect_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME")
    parser.add_argument(
        "--server",
        default=None,
        help="server URL (default: the profile's server, else $CHAT_SERVER, "
        f"else {DEFAULT_SERVER})",
    )
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of stdin instead of asking",
    )


CONNECT: Final = Subcommand(
    name="connect",
    summary="log in (registering NAME on first use)",
    details="The session is kept in\n"
    "$CHAT_HOME/PROFILE.json (mode 0600). Shows the last messages of\n"
    "general and your unread ones. The password is asked without echo.",
    arguments=_connect_arguments,
    run=lambda args, ctx, stdin: connect(
        ctx, name=args.name, password=_read_password(args, stdin), server=args.server
    ),
)
STATUS: Final = Subcommand(
    name="status",
    summary="who you are, cursor, who is online",
    details="Also the unread count, your open\nsessions, and how far this profile has read.",
    run=lambda args, ctx, stdin: status(ctx),
)
DISCONNECT: Final = Subcommand(
    name="disconnect",
    summary="log out and forget the session",
    details="Revokes this profile's token on the\nserver and deletes its session file.",
    run=lambda args, ctx, stdin: disconnect(ctx),
)
