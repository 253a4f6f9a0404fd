"""Subcommands for group rooms, invitations, join links and requests, comments and reports.

Each takes the `Context` of `client.commands`, does one thing and returns the
exit status; the server's refusals propagate as `ApiError` (exit 1 in `cli`).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

from client.commands import EXIT_OK, Context, UsageError, direct_room, session_api
from client.render import json_line, room_lines
from client.social_api import SocialApi
from client.social_render import comment_line, printable, request_line
from client.state import Session

__all__ = [
    "approve",
    "comment",
    "comments",
    "create_room",
    "invite",
    "join",
    "join_token",
    "leave",
    "link",
    "members_list",
    "report",
    "requests",
    "revoke",
    "room_id",
    "social_api",
]

# A token as `chat rooms link` prints it, its `/join/<token>` path, or a URL ending in it.
_JOIN_PATH: Final = re.compile(r"(?:.*/)?join/([^/?#\s]+)/?")
_TOKEN: Final = re.compile(r"[^/?#\s]+")


@asynccontextmanager
async def social_api(ctx: Context, session: Session) -> AsyncIterator[SocialApi]:
    """An authenticated `SocialApi` for the stored session."""
    async with session_api(ctx, session) as api:
        yield SocialApi(api.http, api.token)


def room_id(room: str, me: str) -> str:
    """A room as typed: `@bob` is the direct room with bob; anything else is an id."""
    return direct_room(me, room[1:]) if room.startswith("@") and len(room) > 1 else room


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


def members_list(text: str | None) -> list[str]:
    """`a,b, c` -> `["a", "b", "c"]` (empty entries dropped)."""
    if not text:
        return []
    return [name.strip() for name in text.split(",") if name.strip()]


async def create_room(ctx: Context, *, name: str, members: list[str]) -> int:
    """Create a group room (the caller owns it) with `members`."""
    session = ctx.load()
    async with social_api(ctx, session) as api:
        room = await api.create_room(name, members)
    if ctx.json:
        ctx.say(json_line({"room": dict(room.raw)}))
        return EXIT_OK
    ctx.say(f"created {room.id} ({printable(room.name)})")
    for line in room_lines([room], session.user):
        ctx.say(line)
    return EXIT_OK


async def invite(ctx: Context, *, room: str, user: str) -> int:
    """Make `user` a member of `room` (its owner only)."""
    session = ctx.load()
    room = room_id(room, session.user)
    async with social_api(ctx, session) as api:
        added, info = await ctx.retry(lambda: api.invite(room, user))
    if ctx.json:
        ctx.say(json_line({"added": added, "room": dict(info.raw)}))
    elif added:
        ctx.say(f"{printable(user)} is now a member of {info.id}")
    else:
        ctx.say(f"{printable(user)} was already a member of {info.id}")
    return EXIT_OK


async def leave(ctx: Context, *, room: str) -> int:
    """Leave `room`."""
    session = ctx.load()
    room = room_id(room, session.user)
    async with social_api(ctx, session) as api:
        await api.leave(room)
    ctx.say(json_line({"room": room, "left": True}) if ctx.json else f"left {room}")
    return EXIT_OK


async def link(ctx: Context, *, room: str) -> int:
    """Create a join link for `room` and print its token and path."""
    session = ctx.load()
    room = room_id(room, session.user)
    async with social_api(ctx, session) as api:
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
    room, token = room_id(room, session.user), join_token(token)
    async with social_api(ctx, session) as api:
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
    async with social_api(ctx, session) as api:
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
    room = room_id(room, session.user)
    async with social_api(ctx, session) as api:
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
    room = room_id(room, session.user)
    async with social_api(ctx, session) as api:
        decided = await api.decide(room, user, approve=yes)
    ctx.say(json_line({"request": dict(decided.raw)}) if ctx.json else request_line(decided))
    return EXIT_OK


async def comment(ctx: Context, *, message: int, text: str) -> int:
    """Comment on a message."""
    session = ctx.load()
    async with social_api(ctx, session) as api:
        made = await api.comment(message, text)
    ctx.say(json_line(dict(made.raw)) if ctx.json else comment_line(made, session.user))
    return EXIT_OK


async def comments(ctx: Context, *, message: int) -> int:
    """The comments on a message, oldest first."""
    session = ctx.load()
    async with social_api(ctx, session) as api:
        found = await ctx.retry(lambda: api.comments(message))
    if ctx.json:
        ctx.say(json_line({"message": message, "comments": [dict(c.raw) for c in found]}))
        return EXIT_OK
    for item in found:
        ctx.say(comment_line(item, session.user))
    if not found:
        ctx.notice(f"no comments on #{message}")
    return EXIT_OK


async def report(ctx: Context, *, user: str, reason: str | None) -> int:
    """Report a user (enough distinct reporters ban them from sending)."""
    session = ctx.load()
    async with social_api(ctx, session) as api:
        outcome = await ctx.retry(lambda: api.report(user, reason))
    if ctx.json:
        ctx.say(json_line(dict(outcome.raw)))
    elif outcome.banned:
        ctx.say(f"reported {printable(outcome.user)}; they are banned from sending for now")
    else:
        ctx.say(f"reported {printable(outcome.user)}")
    return EXIT_OK
