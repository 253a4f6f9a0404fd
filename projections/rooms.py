"""Rooms and their members, with the offset at which each member joined.

The join offset is what keeps history private: a member of a group or
direct room sees only what happened in it from the moment they joined.
`general` is the exception: every user sees all of its (unexpired) history.
"""

from __future__ import annotations

from attrs import define, field

from domain import GENERAL, MemberJoined, RoomCreated, name_key


@define(kw_only=True)
class RoomRecord:
    id: str
    kind: str
    name: str
    owner: str | None
    created_at: int
    members: dict[str, int] = field(factory=dict)  # name key -> offset joined


@define(kw_only=True)
class Rooms:
    by_id: dict[str, RoomRecord] = field(factory=dict)
    of_user: dict[str, set[str]] = field(factory=dict)  # name key -> room ids

    def created(self, offset: int, event: RoomCreated) -> None:
        room = RoomRecord(
            id=event.room, kind=event.kind, name=event.name, owner=event.owner, created_at=offset
        )
        self.by_id[event.room] = room
        for member in event.members:
            self._join(room, name_key(member), offset)

    def member_joined(self, offset: int, event: MemberJoined) -> None:
        room = self.by_id.get(event.room)
        if room is not None:
            self._join(room, name_key(event.user), offset)

    def _join(self, room: RoomRecord, key: str, offset: int) -> None:
        room.members.setdefault(key, offset)
        self.of_user.setdefault(key, set()).add(room.id)

    def joined_at(self, room: str, user_key: str) -> int | None:
        """The offset from which the user sees the room, None for a non-member."""
        record = self.by_id.get(room)
        if record is None:
            return None
        joined = record.members.get(user_key)
        if joined is None:
            return None
        return 0 if record.kind == GENERAL else joined
