"""The user's own sessions and whom they block.

`chat sessions` lists the user's open sessions (where they are signed in),
`chat logout-session ID` ends one of them (its token stops working at
once, wherever it is used: a lost phone); `chat block USER` stops USER's
direct messages and invitations, `chat unblock USER` allows them again,
and `chat blocked` lists whom the user blocks. Interactive mode has
`/block`, `/unblock` and `/blocked`.
"""

from __future__ import annotations

from collections.abc import Coroutine, Mapping
from typing import Any, Final

from attrs import field, frozen

from client.api import Api
from client.context import EXIT_OK, Context, UsageError, session_api
from client.display import Display, EventLines
from client.http import quote
from client.jsonread import answer_list, flag, integer, number, number_or_none, obj
from client.jsonread import user_name as read_user_name
from client.slash import Shell, Start
from client.subcommand import Subcommand, message_id, positionals
from client.terminal import json_line, printable, when

__all__ = [
    "BLOCK",
    "BLOCKED",
    "EVENT_LINES",
    "LOGOUT_SESSION",
    "SESSIONS",
    "SLASH_HELP",
    "UNBLOCK",
    "PrivacyApi",
    "SessionInfo",
    "slash_commands",
]

SLASH_HELP: Final = """\
Blocking:
  /block <user>, /unblock <user>, /blocked"""


@frozen(kw_only=True)
class SessionInfo:
    """One of the user's open sessions (`GET /sessions`)."""

    id: int
    opened_at: float
    last_active: float | None
    current: bool
    raw: Mapping[str, Any] = field(factory=dict, eq=False, repr=False)

    @classmethod
    def from_json(cls, value: object) -> SessionInfo:
        """Raises BadResponseError when `value` is not a session object."""
        fields = obj(value, "session")
        return cls(
            id=integer(fields, "id", "session"),
            opened_at=number(fields, "opened_at", "session"),
            last_active=number_or_none(fields, "last_active"),
            current=flag(fields, "current"),
            raw=fields,
        )


class PrivacyApi(Api):
    """`/sessions` and `/users/{name}/block`, `/blocked`."""

    async def sessions(self) -> tuple[SessionInfo, ...]:
        """The caller's open sessions, oldest first.

        Raises ApiError and the errors of `HttpClient.request`.
        """
        response = await self.call("GET", "/sessions")
        return tuple(SessionInfo.from_json(s) for s in answer_list(response.json(), "sessions"))

    async def end_session(self, session: int) -> None:
        """End one of the caller's sessions. Raises ApiError (not_found) and network errors."""
        await self.call("DELETE", f"/sessions/{session}")

    async def block(self, name: str, *, blocked: bool) -> None:
        """Block (or unblock) user `name`. Raises ApiError (validation_failed, not_found)."""
        await self.call("POST" if blocked else "DELETE", f"/users/{quote(name)}/block")

    async def blocked(self) -> tuple[str, ...]:
        """The names the caller blocks. Raises ApiError and network errors."""
        names = answer_list((await self.call("GET", "/blocked")).json(), "blocked")
        return tuple(read_user_name(n, "blocked[]") for n in names)


async def sessions(ctx: Context) -> int:
    """The user's open sessions, oldest first; the one of this profile marked."""
    session = ctx.load()
    async with session_api(ctx, session, PrivacyApi) as api:
        found = await ctx.retry(api.sessions)
    if ctx.json:
        ctx.say(json_line({"sessions": [dict(s.raw) for s in found]}))
        return EXIT_OK
    for item in found:
        active = "" if item.last_active is None else f", last active {when(item.last_active)}"
        mine = "  (this profile)" if item.current else ""
        ctx.say(f"session {item.id}: opened {when(item.opened_at)}{active}{mine}")
    ctx.notice(f"end one with: {ctx.command('logout-session ID')}")
    return EXIT_OK


async def logout_session(ctx: Context, *, session_id: int) -> int:
    """End one of the user's sessions (this profile's too)."""
    session = ctx.load()
    async with session_api(ctx, session, PrivacyApi) as api:
        found = await ctx.retry(api.sessions)
        await ctx.retry(lambda: api.end_session(session_id))
    current = any(s.id == session_id and s.current for s in found)
    if current:
        ctx.store.delete()
    if ctx.json:
        ctx.say(json_line({"ended": session_id, "current": current}))
    else:
        this = " (this profile's: connect again to use it)" if current else ""
        ctx.say(f"ended session {session_id}{this}")
    return EXIT_OK


async def block(ctx: Context, *, user: str, blocked: bool) -> int:
    """Block or unblock a user."""
    session = ctx.load()
    async with session_api(ctx, session, PrivacyApi) as api:
        await ctx.retry(lambda: api.block(user, blocked=blocked))
    if ctx.json:
        ctx.say(json_line({"user": user, "blocked": blocked}))
    elif blocked:
        ctx.say(f"blocked {printable(user)}: no direct messages or invitations from them")
    else:
        ctx.say(f"unblocked {printable(user)}")
    return EXIT_OK


async def blocked_users(ctx: Context) -> int:
    """Whom the user blocks."""
    session = ctx.load()
    async with session_api(ctx, session, PrivacyApi) as api:
        names = await ctx.retry(api.blocked)
    if ctx.json:
        ctx.say(json_line({"blocked": list(names)}))
    elif names:
        ctx.say(printable(", ".join(names)))
    else:
        ctx.notice("you block no one")
    return EXIT_OK


def _block_event(verb: str) -> Any:
    def line(fields: Mapping[str, Any], display: Display) -> str:
        return f"* you {verb} {fields.get('user')}"

    return line


EVENT_LINES: Final[EventLines] = {
    "user.blocked": _block_event("blocked"),
    "user.unblocked": _block_event("unblocked"),
}


def _session_arguments(parser: Any) -> None:
    parser.add_argument("session_id", type=message_id, metavar="SESSION_ID")


SESSIONS: Final = Subcommand(
    name="sessions",
    summary="where you are signed in",
    details="Your open sessions, oldest first, with when\neach was last active.",
    run=lambda args, ctx, stdin: sessions(ctx),
)
LOGOUT_SESSION: Final = Subcommand(
    name="logout-session",
    summary="end one of your sessions (a lost device)",
    details="Its token stops working at\nonce, wherever it is used. `chat sessions` lists the ids.",
    arguments=_session_arguments,
    run=lambda args, ctx, stdin: logout_session(ctx, session_id=args.session_id),
)
BLOCK: Final = Subcommand(
    name="block",
    summary="stop a user's direct messages and invitations",
    details="`chat unblock USER` allows them\nagain; `chat blocked` lists whom you block.",
    arguments=positionals("user"),
    run=lambda args, ctx, stdin: block(ctx, user=args.user, blocked=True),
)
UNBLOCK: Final = Subcommand(
    name="unblock",
    summary="allow a blocked user's direct messages again",
    details="And their invitations.",
    arguments=positionals("user"),
    run=lambda args, ctx, stdin: block(ctx, user=args.user, blocked=False),
)
BLOCKED: Final = Subcommand(
    name="blocked",
    summary="whom you block",
    details="One line, names separated by commas.",
    run=lambda args, ctx, stdin: blocked_users(ctx),
)


def slash_commands(ctx: Context, shell: Shell) -> dict[str, Start]:
    """`/block <user>`, `/unblock <user>`, `/blocked`."""

    def blocking(blocked: bool) -> Start:
        def start(words: str) -> Coroutine[Any, Any, int]:
            user = words.strip()
            if not user or " " in user:
                raise UsageError(f"usage: /{'' if blocked else 'un'}block <user>")
            return block(ctx, user=user, blocked=blocked)

        return start

    return {
        "/block": blocking(True),
        "/unblock": blocking(False),
        "/blocked": lambda words: blocked_users(ctx),
    }
