"""Rooms, their members (with the offset each joined at), join links and requests.

The join offset is what keeps history private: a member of a direct room,
or of a group room whose history is `joined`, sees only what happened in it
from the moment they joined. `general` and the group rooms whose history is
`shared` (the default for new rooms) show every member all of their
unexpired history. A member who leaves loses the room; joining again starts
a new join offset.
"""

from __future__ import annotations

from sys import intern

from attrs import define, field

from domain import (
    GENERAL,
    HISTORY_JOINED,
    HISTORY_SHARED,
    JoinDecided,
    JoinRequested,
    LinkCreated,
    LinkRevoked,
    MemberJoined,
    MemberLeft,
    RoomCreated,
    name_key,
)


@define(kw_only=True, getstate_setstate=False)
class JoinRequestRecord:
    room: str
    user: str
    requested_at: float
    id: int  # offset of `room.join_requested`


@define(kw_only=True, getstate_setstate=False)
class RoomRecord:
    id: str
    kind: str
    name: str
    owner: str | None
    created_at: int
    history: str = HISTORY_JOINED  # what a new member sees of the past
    members: dict[str, int] = field(factory=dict)  # name key -> offset joined
    requests: dict[str, JoinRequestRecord] = field(factory=dict)  # pending, by name key


@define(kw_only=True, getstate_setstate=False)
class Rooms:
    by_id: dict[str, RoomRecord] = field(factory=dict)
    of_user: dict[str, set[str]] = field(factory=dict)  # name key -> room ids
    links: dict[str, str] = field(factory=dict)  # active link hash -> room id
    owned: dict[str, int] = field(factory=dict)  # name key -> group rooms created

    def created(self, offset: int, event: RoomCreated) -> None:
        # Interned and shared strings: a direct room's name is its id, and
        # thousands of rooms share a few kinds and member keys (less memory,
        # and a snapshot stores each string once).
        room = RoomRecord(
            id=event.room,
            kind=intern(event.kind),
            name=event.room if event.name == event.room else event.name,
            owner=event.owner,
            created_at=offset,
            history=intern(event.history or HISTORY_JOINED),
        )
        self.by_id[event.room] = room
        if event.owner is not None:
            owner = name_key(event.owner)
            self.owned[owner] = self.owned.get(owner, 0) + 1
        for member in event.members:
            self._join(room, name_key(member), offset)

    def member_joined(self, offset: int, event: MemberJoined) -> None:
        room = self.by_id.get(event.room)
        if room is not None:
            self._join(room, name_key(event.user), offset)

    def member_left(self, event: MemberLeft) -> None:
        room = self.by_id.get(event.room)
        key = name_key(event.user)
        if room is not None and room.members.pop(key, None) is not None:
            self.of_user[key].discard(room.id)

    def _join(self, room: RoomRecord, key: str, offset: int) -> None:
        key = intern(key)
        room.members.setdefault(key, offset)
        room.requests.pop(key, None)
        self.of_user.setdefault(key, set()).add(room.id)

    def link_created(self, event: LinkCreated) -> None:
        self.links[event.link_hash] = event.room

    def link_revoked(self, event: LinkRevoked) -> None:
        # Requests made through the link stay pending: the owner still decides them.
        self.links.pop(event.link_hash, None)

    def join_requested(self, offset: int, ts: float, event: JoinRequested) -> None:
        room = self.by_id.get(event.room)
        if room is not None:
            room.requests[name_key(event.user)] = JoinRequestRecord(
                room=event.room, user=event.user, requested_at=ts, id=offset
            )

    def join_decided(self, event: JoinDecided) -> None:
        room = self.by_id.get(event.room)
        if room is not None:
            room.requests.pop(name_key(event.user), None)

    def joined_at(self, room: str, user_key: str) -> int | None:
        """The offset from which the user sees the room, None for a non-member."""
        record = self.by_id.get(room)
        if record is None:
            return None
        joined = record.members.get(user_key)
        if joined is None:
            return None
        return 0 if record.kind == GENERAL or record.history == HISTORY_SHARED else joined
