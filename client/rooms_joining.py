"""Rooms, continued: join links and join requests.

The owner of a group room creates a join link (`chat rooms link`) and gives
out its token; whoever has it asks to join (`chat join`), and the owner
approves or rejects each request (`chat requests`, `approve`, `reject`).
Revoking a link (`chat rooms revoke`) stops new requests through it;
requests already made stay pending. `client.rooms` puts the link actions
under `chat rooms` and these slash commands beside its own.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Final

from attrs import field, frozen

from client.api import Api
from client.context import EXIT_OK, Context, UsageError, session_api
from client.display import Display, EventLines
from client.http import quote
from client.jsonread import answer_list, member, nullable_number, obj, string
from client.room_book import resolve_room
from client.slash import Shell, Start, room_then
from client.subcommand import Subcommand, positionals
from client.terminal import json_line, printable, when

__all__ = [
    "APPROVE",
    "EVENT_LINES",
    "JOIN",
    "REJECT",
    "REQUESTS",
    "ROOM_ACTIONS",
    "SLASH_HELP",
    "JoinLink",
    "JoinRequest",
    "JoiningApi",
    "approve",
    "join",
    "join_token",
    "link",
    "request_line",
    "requests",
    "revoke",
    "slash_commands",
]

SLASH_HELP: Final = """\
  /link [room]                     create a join link (prints its token)
  /revoke [room] <token>           revoke a join link
  /join <token>                    ask to join through a link
  /requests [room]                 pending requests to join
  /approve [room] <user>, /reject [room] <user>"""
# A token as `chat rooms link` prints it, its `/join/<token>` path, or a URL ending in it.
_JOIN_PATH: Final = re.compile(r"(?:.*/)?join/([^/?#\s]+)/?")
_TOKEN: Final = re.compile(r"[^/?#\s]+")


@frozen(kw_only=True)
class JoinLink:
    """`POST /rooms/{room}/links`: the secret token and the path that uses it."""

    room: str
    token: str
    path: str
    raw: Mapping[str, Any] = field(factory=dict, eq=False, repr=False)

    @classmethod
    def from_json(cls, value: object) -> JoinLink:
        """Raises BadResponseError when `value` is not a join link answer."""
        fields = obj(value, "link")
        return cls(
            room=string(fields, "room", "link"),
            token=string(fields, "token", "link"),
            path=string(fields, "path", "link"),
            raw=fields,
        )


@frozen(kw_only=True)
class JoinRequest:
    """A request to join a group room, and where it stands."""

    room: str
    user: str
    status: str  # pending, approved, rejected, member
    requested_at: float | None = None
    raw: Mapping[str, Any] = field(factory=dict, eq=False, repr=False)

    @classmethod
    def from_json(cls, value: object) -> JoinRequest:
        """Raises BadResponseError when `value` is not a join request object."""
        fields = obj(value, "request")
        return cls(
            room=string(fields, "room", "request"),
            user=string(fields, "user", "request"),
            status=string(fields, "status", "request"),
            requested_at=nullable_number(fields, "requested_at", "request"),
            raw=fields,
        )


def join_token(text: str) -> str:
    """The token of a join link given as the token, `/join/<token>` or a URL.

    Raises UsageError for an empty or malformed link.
    """
    text = text.strip()
    match = _JOIN_PATH.fullmatch(text)
    token = match[1] if match is not None else text
    if _TOKEN.fullmatch(token) is None:
        raise UsageError(f"not a join link or token: {text!r}")
    return token


class JoiningApi(Api):
    """The endpoints of join links and join requests."""

    async def create_link(self, room: str) -> JoinLink:
        """A new join link for `room` (owner only).

        Raises ApiError (not_owner, not_found) and the errors of `HttpClient.request`.
        """
        response = await self.call("POST", f"/rooms/{quote(room)}/links")
        return JoinLink.from_json(response.json())

    async def revoke_link(self, room: str, token: str) -> None:
        """Revoke a join link of `room` (owner only).

        Raises ApiError (not_owner, not_found) and the errors of `HttpClient.request`.
        """
        await self.call("DELETE", f"/rooms/{quote(room)}/links/{quote(token)}")

    async def join(self, token: str) -> JoinRequest:
        """Ask to join the room of a link (status `pending`, or `member` already).

        Raises ApiError (not_found) and the errors of `HttpClient.request`.
        """
        response = await self.call("POST", f"/join/{quote(token)}")
        return JoinRequest.from_json(member(response.json(), "request", "answer"))

    async def join_requests(self, room: str) -> tuple[JoinRequest, ...]:
        """The pending requests to join `room` (owner only).

        Raises ApiError (not_owner, not_found) and the errors of `HttpClient.request`.
        """
        response = await self.call("GET", f"/rooms/{quote(room)}/requests")
        return tuple(JoinRequest.from_json(r) for r in answer_list(response.json(), "requests"))

    async def decide(self, room: str, name: str, *, approve: bool) -> JoinRequest:
        """Approve or reject `name`'s pending request to join `room`.

        Raises ApiError (not_owner, not_found) and the errors of `HttpClient.request`.
        """
        response = await self.call(
            "POST", f"/rooms/{quote(room)}/requests/{quote(name)}", {"approve": approve}
        )
        return JoinRequest.from_json(member(response.json(), "request", "answer"))


def request_line(request: JoinRequest) -> str:
    """`carol asked to join g12 at 14:05` / `carol: approved for g12`."""
    user = printable(request.user)
    if request.status == "pending":
        at = f" at {when(request.requested_at)}" if request.requested_at is not None else ""
        return f"{user} asked to join {printable(request.room)}{at}"
    return f"{user}: {request.status} for {printable(request.room)}"


def _join_requested(fields: Mapping[str, Any], display: Display) -> str:
    request = fields.get("request")
    if not isinstance(request, dict):
        return "* a join request"
    user, room = request.get("user"), request.get("room")
    if user == display.me:
        return f"* you asked to join {room}; its owner decides"
    return f"* {user} asks to join {room} (chat approve {room} {user})"


def _join_decided(fields: Mapping[str, Any], display: Display) -> str:
    request = fields.get("request")
    if not isinstance(request, dict):
        return "* a join request was decided"
    user, room, status = request.get("user"), request.get("room"), request.get("status")
    who = "your" if user == display.me else f"{user}'s"
    return f"* {who} request to join {room} was {status}"


EVENT_LINES: Final[EventLines] = {
    "room.join_requested": _join_requested,
    "room.join_decided": _join_decided,
}


async def link(ctx: Context, *, room: str) -> int:
    """Create a join link for `room` and print its token and path."""
    session = ctx.load()
    room = await resolve_room(ctx, session, room)
    async with session_api(ctx, session, JoiningApi) as api:
        created = await api.create_link(room)
    if ctx.json:
        ctx.say(json_line(dict(created.raw)))
        return EXIT_OK
    ctx.say(created.token)
    ctx.notice(f"join link for {created.room}: {created.path}")
    ctx.notice(f"others ask to join with: chat join {created.token}")
    return EXIT_OK


async def revoke(ctx: Context, *, room: str, token: str) -> int:
    """Revoke a join link of `room`."""
    session = ctx.load()
    room, token = await resolve_room(ctx, session, room), join_token(token)
    async with session_api(ctx, session, JoiningApi) as api:
        await api.revoke_link(room, token)
    if ctx.json:
        ctx.say(json_line({"room": room, "token": token, "revoked": True}))
    else:
        ctx.say(f"revoked the link to {room}; requests already made stay pending")
    return EXIT_OK


async def join(ctx: Context, *, link_or_token: str) -> int:
    """Ask to join a room through its join link."""
    session = ctx.load()
    token = join_token(link_or_token)
    async with session_api(ctx, session, JoiningApi) as api:
        request = await api.join(token)
    if ctx.json:
        ctx.say(json_line({"request": dict(request.raw)}))
    elif request.status == "member":
        ctx.say(f"you are already a member of {request.room}")
    else:
        ctx.say(f"asked to join {request.room}; its owner decides (chat watch shows the answer)")
    return EXIT_OK


async def requests(ctx: Context, *, room: str) -> int:
    """The pending requests to join `room` (its owner only)."""
    session = ctx.load()
    room = await resolve_room(ctx, session, room)
    async with session_api(ctx, session, JoiningApi) as api:
        pending = await ctx.retry(lambda: api.join_requests(room))
    if ctx.json:
        ctx.say(json_line({"room": room, "requests": [dict(r.raw) for r in pending]}))
        return EXIT_OK
    for request in pending:
        ctx.say(request_line(request))
    if not pending:
        ctx.notice(f"no pending requests to join {room}")
    return EXIT_OK


async def approve(ctx: Context, *, room: str, user: str, yes: bool) -> int:
    """Approve (`yes`) or reject `user`'s request to join `room`."""
    session = ctx.load()
    room = await resolve_room(ctx, session, room)
    async with session_api(ctx, session, JoiningApi) as api:
        decided = await api.decide(room, user, approve=yes)
    ctx.say(json_line({"request": dict(decided.raw)}) if ctx.json else request_line(decided))
    return EXIT_OK


def _revoke_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("room", metavar="ROOM")
    parser.add_argument("token", metavar="TOKEN", help="the token, or the /join/TOKEN path")


def _join_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("token", metavar="TOKEN", help="the token, /join/TOKEN, or the link URL")


ROOM_ACTIONS: Final = (
    Subcommand(
        name="link",
        summary="create a join link for ROOM (owner only)",
        details="Prints the secret token on\n"
        "stdout and the /join/TOKEN path on stderr. Whoever has it can ask to\n"
        "join with `chat join TOKEN`; you approve or reject each request.",
        arguments=positionals("room"),
        run=lambda args, ctx, stdin: link(ctx, room=args.room),
    ),
    Subcommand(
        name="revoke",
        summary="revoke a join link (owner only)",
        details="Nobody can ask to join through it\n"
        "any more; requests already made stay pending for you to decide.",
        arguments=_revoke_arguments,
        run=lambda args, ctx, stdin: revoke(ctx, room=args.room, token=args.token),
    ),
)
JOIN: Final = Subcommand(
    name="join",
    summary="ask to join a room through its join link",
    details="The room's owner approves or\nrejects the request; `chat watch` shows the answer.",
    arguments=_join_arguments,
    run=lambda args, ctx, stdin: join(ctx, link_or_token=args.token),
)
REQUESTS: Final = Subcommand(
    name="requests",
    summary="pending requests to join ROOM (owner only)",
    details="Who asked and when; decide\nwith `chat approve ROOM USER` or `chat reject ROOM USER`.",
    arguments=positionals("room"),
    run=lambda args, ctx, stdin: requests(ctx, room=args.room),
)


def _decision(name: str, *, yes: bool) -> Subcommand:
    return Subcommand(
        name=name,
        summary=f"{name} USER's request to join ROOM (owner only)",
        details="Only a pending request\ncan be decided; the user sees the decision as an event.",
        arguments=positionals("room", "user"),
        run=lambda args, ctx, stdin: approve(ctx, room=args.room, user=args.user, yes=yes),
    )


APPROVE: Final = _decision("approve", yes=True)
REJECT: Final = _decision("reject", yes=False)


def slash_commands(ctx: Context, shell: Shell) -> dict[str, Start]:
    """`/link`, `/revoke`, `/join`, `/requests`, `/approve` and `/reject`."""

    def revoke_(words: str) -> Coroutine[Any, Any, int]:
        room, token = room_then(shell, words, "/revoke [room] <token>")
        return revoke(ctx, room=room, token=token)

    def join_(words: str) -> Coroutine[Any, Any, int]:
        if not words.strip():
            raise UsageError("usage: /join <token>")
        return join(ctx, link_or_token=words)

    def decide(yes: bool) -> Callable[[str], Coroutine[Any, Any, int]]:
        usage = "/approve [room] <user>" if yes else "/reject [room] <user>"

        def start(words: str) -> Coroutine[Any, Any, int]:
            room, user = room_then(shell, words, usage)
            return approve(ctx, room=room, user=user, yes=yes)

        return start

    return {
        "/link": lambda words: link(ctx, room=words.strip() or shell.room),
        "/revoke": revoke_,
        "/join": join_,
        "/requests": lambda words: requests(ctx, room=words.strip() or shell.room),
        "/approve": decide(yes=True),
        "/reject": decide(yes=False),
    }
