"""Rooms: listing them, group rooms and their members, leaving; how room events read.

`chat rooms` lists the caller's rooms; `chat rooms create|invite` make and
fill group rooms (`g<number>`, private to their members, owned by their
creator); `chat leave` leaves one. Join links and join requests are in
`client.rooms_joining`; this module puts its actions under `chat rooms`, its
slash commands beside these and its event lines with these. A room is typed
as its id, or as `@bob` for the direct room with bob.
"""

from __future__ import annotations

import argparse
from collections.abc import Coroutine, Mapping, Sequence
from typing import Any, Final, TextIO

from client import rooms_joining
from client.api import Api
from client.context import EXIT_OK, Context, UsageError, session_api
from client.display import Display, EventLines
from client.http import quote
from client.jsonread import (
    array,
    member,
    obj,
    user_name,
)
from client.room_book import Room, resolve_room
from client.slash import Shell, Start, room_then
from client.subcommand import Subcommand, positionals, register
from client.terminal import (
    DIRECT_PREFIX,
    json_line,
    printable,
    room_label,
)

__all__ = [
    "EVENT_LINES",
    "LEAVE",
    "ROOMS",
    "SLASH_HELP",
    "Room",
    "RoomsApi",
    "create_room",
    "invite",
    "leave",
    "members_list",
    "room_lines",
    "rooms",
    "slash_commands",
]

SLASH_HELP: Final = f"""\
Rooms, links and requests ([room] is the current room when left out):
  /create <name> [--members a,b]   create a group room (you own it)
  /invite [room] <user>            make <user> a member
{rooms_joining.SLASH_HELP}
  /leave [room]                    leave a room"""


def members_list(text: str | None) -> list[str]:
    """`a,b, c` -> `["a", "b", "c"]` (empty entries dropped)."""
    if not text:
        return []
    return [name.strip() for name in text.split(",") if name.strip()]


class RoomsApi(Api):
    """The endpoints of rooms and their members."""

    async def my_rooms(self) -> tuple[str, tuple[Room, ...]]:
        """The caller's name and rooms, with unread counts (as `GET /status` has them).

        Raises ApiError and the errors of `HttpClient.request`.
        """
        status = obj((await self.call("GET", "/status")).json(), "status")
        rooms = array(status, "rooms", "status")
        return user_name(status.get("user"), "status.user"), tuple(map(Room.from_json, rooms))

    async def create_room(self, name: str, members: list[str]) -> Room:
        """Create a group room owned by the caller.

        Raises ApiError (validation_failed, not_found) and the errors of `HttpClient.request`.
        """
        payload: dict[str, object] = {"name": name}
        if members:
            payload["members"] = members
        response = await self.call("POST", "/rooms", payload)
        return Room.from_json(member(response.json(), "room", "answer"))

    async def invite(self, room: str, name: str) -> tuple[bool, Room]:
        """Make `name` a member of `room`; (True when newly added, the room).

        Raises ApiError (not_owner, not_found) and the errors of `HttpClient.request`.
        """
        response = await self.call("POST", f"/rooms/{quote(room)}/members", {"name": name})
        return response.status == 201, Room.from_json(member(response.json(), "room", "answer"))

    async def leave(self, room: str) -> None:
        """Leave `room`.

        Raises ApiError (not_found, conflict) and the errors of `HttpClient.request`.
        """
        await self.call("POST", f"/rooms/{quote(room)}/leave")


def room_lines(rooms: Sequence[Room], display: Display) -> list[str]:
    """One line per room: its name (and id), kind, unread count, members."""
    lines = []
    for room in rooms:
        display.learn_room(room.id, room.name, room.kind, room.members)
    for room in rooms:
        unread = f"{room.unread} unread" if room.unread else "-"
        label = display.label(room.id)
        shown = f"{label} ({room.id})" if label != room.id else label
        members = ", ".join(room.members)
        lines.append(f"{printable(shown)}  {room.kind}  {unread}  members: {printable(members)}")
    return lines


def _joined(fields: Mapping[str, Any], display: Display) -> str:
    user, label = fields.get("user"), display.label(str(fields.get("room")))
    if isinstance(user, str) and user.casefold() == display.me.casefold():
        # Group rooms share their history with new members unless the owner chose not to.
        return f"* you joined {label}: history shows its messages"
    return f"* {user} joined {label}"


def _left(fields: Mapping[str, Any], display: Display) -> str:
    return f"* {fields.get('user')} left {display.label(str(fields.get('room')))}"


def _created(fields: Mapping[str, Any], display: Display) -> str:
    room = fields.get("room")
    if isinstance(room, dict):
        room_id = str(room.get("id"))
        display.learn_room(room_id, str(room.get("name")), str(room.get("kind")))
        label = room_label(room_id, display.me)
        if room_id.startswith(DIRECT_PREFIX):
            return f"* room {label} created"  # its name is the label already
        owner = room.get("owner")
        by = f" by {owner}" if owner else ""
        return f"* room {label} ({room.get('name')}) created{by}"
    return "* a room was created"


EVENT_LINES: Final[EventLines] = {
    "room.created": _created,
    "room.member_joined": _joined,
    "room.member_left": _left,
    **rooms_joining.EVENT_LINES,
}


async def rooms(ctx: Context) -> int:
    """The rooms the user is a member of, with unread counts."""
    session = ctx.load()
    async with session_api(ctx, session, RoomsApi) as api:
        user, found = await ctx.retry(api.my_rooms)
    if ctx.json:
        ctx.say(json_line({"rooms": [dict(r.raw) for r in found]}))
        return EXIT_OK
    for line in room_lines(found, ctx.display(user)):
        ctx.say(line)
    return EXIT_OK


async def create_room(ctx: Context, *, name: str, members: list[str]) -> int:
    """Create a group room (the caller owns it) with `members`."""
    session = ctx.load()
    async with session_api(ctx, session, RoomsApi) as api:
        room = await api.create_room(name, members)
    if ctx.json:
        ctx.say(json_line({"room": dict(room.raw)}))
        return EXIT_OK
    ctx.say(f"created {room.id} ({printable(room.name)})")
    for line in room_lines([room], ctx.display(session.user)):
        ctx.say(line)
    return EXIT_OK


async def invite(ctx: Context, *, room: str, user: str) -> int:
    """Make `user` a member of `room` (its owner only)."""
    session = ctx.load()
    room = await resolve_room(ctx, session, room)
    async with session_api(ctx, session, RoomsApi) as api:
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
    room = await resolve_room(ctx, session, room)
    async with session_api(ctx, session, RoomsApi) as api:
        await api.leave(room)
    ctx.say(json_line({"room": room, "left": True}) if ctx.json else f"left {room}")
    return EXIT_OK


def _create_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help="the room's name (1-64 characters)")
    parser.add_argument(
        "--members", metavar="A,B", help="comma-separated users who become members at once"
    )


_ACTIONS: Final = (
    Subcommand(
        name="list",
        summary="your rooms with unread counts (the default)",
        details="The same as `chat rooms`\n"
        "without an action: each room's id, kind, unread count and members.",
        run=lambda args, ctx, stdin: rooms(ctx),
    ),
    Subcommand(
        name="create",
        summary="create a private group room; you own it",
        details="Its id is g<number>; only\n"
        "members see it. --members adds users at once; later, invite them or\n"
        "give out a join link.",
        arguments=_create_arguments,
        run=lambda args, ctx, stdin: create_room(
            ctx, name=args.name, members=members_list(args.members)
        ),
    ),
    Subcommand(
        name="invite",
        summary="make USER a member of ROOM (owner only)",
        details="The user becomes a member at\nonce; inviting a member again changes nothing.",
        arguments=positionals("room", "user"),
        run=lambda args, ctx, stdin: invite(ctx, room=args.room, user=args.user),
    ),
    *rooms_joining.ROOM_ACTIONS,
)
_ACTION_BY_NAME: Final = {action.name: action for action in _ACTIONS}


def _room_actions(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(
        dest="rooms_action",
        metavar="ACTION",
        description="Without an action: your rooms with unread counts.",
    )
    register(sub, _ACTIONS)


def _run_action(args: argparse.Namespace, ctx: Context, stdin: TextIO) -> Coroutine[Any, Any, int]:
    action = getattr(args, "rooms_action", None) or "list"  # `chat rooms` alone lists
    return _ACTION_BY_NAME[action].run(args, ctx, stdin)


ROOMS: Final = Subcommand(
    name="rooms",
    summary="your rooms with unread counts",
    details="With each room's kind and members.",
    arguments=_room_actions,
    run=_run_action,
)
LEAVE: Final = Subcommand(
    name="leave",
    summary="leave a room",
    details="Not general, not a direct room, and not a room you own\nwhile others are in it.",
    arguments=positionals("room"),
    run=lambda args, ctx, stdin: leave(ctx, room=args.room),
)


def slash_commands(ctx: Context, shell: Shell) -> dict[str, Start]:
    """The slash commands of rooms, join links and requests (in `client.rooms_joining`)."""

    def create(words: str) -> Coroutine[Any, Any, int]:
        name, _, members = words.partition("--members")
        if not name.strip():
            raise UsageError("usage: /create <name> [--members a,b]")
        return create_room(ctx, name=name.strip(), members=members_list(members.strip()))

    def invite_(words: str) -> Coroutine[Any, Any, int]:
        room, user = room_then(shell, words, "/invite [room] <user>")
        return invite(ctx, room=room, user=user)

    return {
        "/create": create,
        "/invite": invite_,
        **rooms_joining.slash_commands(ctx, shell),
        "/leave": lambda words: leave(ctx, room=words.strip() or shell.room),
    }
