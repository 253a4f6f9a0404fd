"""The user's rooms as one command knows them: to name them on screen and to find them by name.

A room is typed as its id (`general`, `g14`, `dm:alice:bob`), as `@bob` for
the direct room with bob, or by its name (`Project X`, or `bob` for the
direct room): ids win, then a name that exactly one of the user's rooms
has (case aside). The rooms are fetched once per command (`GET /rooms`),
only when a name must be found or lines must name rooms, and also teach
the `Display` how their members write their names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

from attrs import field, frozen

from client.api import Api, ApiError
from client.context import Context, UsageError, session_api
from client.display import Display
from client.http import HttpClientError
from client.jsonread import answer_list, array, integer_or_none, obj, string, string_or_none
from client.jsonread import user_name as read_user_name
from client.state import Session
from client.terminal import direct_room, printable, room_id

__all__ = ["ROOM_ID", "Room", "RoomBook", "resolve_room", "room_book"]

# What is taken as a room id as it is typed (anything else is looked up by name).
ROOM_ID: Final = re.compile(r"general|g[0-9]+|dm:.+")


@frozen(kw_only=True)
class Room:
    """A room the user is a member of (`unread` is absent from events)."""

    id: str
    name: str
    kind: str
    owner: str | None
    members: tuple[str, ...]
    unread: int | None = None
    history: str | None = None
    raw: Mapping[str, Any] = field(factory=dict, eq=False, repr=False)

    @classmethod
    def from_json(cls, value: object) -> Room:
        """Raises BadResponseError when `value` is not a room object."""
        fields = obj(value, "room")
        members = array(fields, "members", "room")
        return cls(
            id=string(fields, "id", "room"),
            name=string(fields, "name", "room"),
            kind=string(fields, "kind", "room"),
            owner=string_or_none(fields, "owner"),
            members=tuple(read_user_name(m, "room.members[]") for m in members),
            unread=integer_or_none(fields, "unread"),
            history=string_or_none(fields, "history"),
            raw=fields,
        )


class RoomBook:
    """The user's rooms, for the `Display` and for finding a room by name."""

    def __init__(self, api: Api, display: Display) -> None:
        self.api = api
        self.display = display
        self.rooms: dict[str, Room] = {}
        self.loaded = False

    def learn(self, rooms: Iterable[Room]) -> None:
        """Take rooms from an answer that lists them (`/connect`, `/status`)."""
        for room in rooms:
            self.rooms[room.id] = room
            self.display.learn_room(room.id, room.name, room.kind, room.members)

    async def load(self, *, quietly: bool = True) -> None:
        """Fetch the user's rooms (once); `quietly`, a failure only leaves the ids shown.

        Raises ApiError and the errors of `HttpClient.request` unless `quietly`.
        """
        if self.loaded:
            return
        try:
            response = await self.api.call("GET", "/rooms")
            rooms = [Room.from_json(r) for r in answer_list(response.json(), "rooms")]
        except (ApiError, HttpClientError):
            if not quietly:
                raise
            return
        self.loaded = True
        self.learn(rooms)

    async def resolve(self, text: str) -> str:
        """The id of the room typed as `text`: an id, `@user`, or a name.

        Raises UsageError when no room or several rooms of the user have
        that name, ApiError and the errors of `HttpClient.request`.
        """
        typed = text.strip()
        if not typed:
            raise UsageError("name a room: its id, its name, or @user")
        if typed.startswith("@") and len(typed) > 1:
            return direct_room(self.display.me, typed[1:])
        if ROOM_ID.fullmatch(typed):
            return typed
        await self.load(quietly=False)
        found = [r for r in self.rooms.values() if r.name == typed] or [
            r for r in self.rooms.values() if r.name.casefold() == typed.casefold()
        ]
        if len(found) == 1:
            return found[0].id
        if not found:
            raise UsageError(f"none of your rooms is called {printable(typed)!r} (chat rooms)")
        ids = ", ".join(sorted(r.id for r in found))
        raise UsageError(
            f"{len(found)} of your rooms are called {printable(typed)!r} ({ids}): give the id"
        )


async def room_book(ctx: Context, api: Api, user: str, *, load: bool = True) -> RoomBook:
    """A book of `user`'s rooms for one command; `load`: fetch them now (not for --json)."""
    book = RoomBook(api, ctx.display(user))
    if load and not ctx.json:
        await book.load()
    return book


async def resolve_room(ctx: Context, session: Session, text: str) -> str:
    """The id of the room typed as `text` (an id, `@user`, or a name of one of the user's rooms).

    Only a name costs a request (`GET /rooms`). Raises UsageError (no room
    or several rooms of that name), ApiError and the errors of `HttpClient.request`.
    """
    typed = text.strip()
    if (typed.startswith("@") and len(typed) > 1) or ROOM_ID.fullmatch(typed):
        return room_id(typed, session.user)
    async with session_api(ctx, session, Api) as api:
        return await RoomBook(api, ctx.display(session.user)).resolve(typed)
