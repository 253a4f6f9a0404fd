"""The chat's read model: every projection, folded from events by `apply`.

`ChatView.apply(offset, ts, event)` never fails and never does I/O; replaying
the log is `apply` in a loop. The view also answers the rules (`ChatState`)
and the queries, which take `now` and `upto` (the highest offset readers may
see, i.e. the durable head) as arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from attrs import define, field

from domain import (
    GENERAL,
    CursorMoved,
    Event,
    MemberJoined,
    MessageSent,
    RoomCreated,
    SessionClosed,
    SessionOpened,
    UserRegistered,
    name_key,
)
from projections.rooms import RoomRecord, Rooms
from projections.timeline import MessageRecord, Timeline
from projections.users import Users

EVERYONE = None  # an audience of every user, see `ChatView.audience`


@define(kw_only=True)
class ChatView:
    """Users, sessions, rooms, timelines and cursors of one log."""

    ttl_s: float
    head: int = 0
    last_ts: float = 0.0
    users: Users = field(factory=Users)
    rooms: Rooms = field(factory=Rooms)
    timeline: Timeline = field(init=False)
    cursors: dict[str, int] = field(factory=dict)  # name key -> acknowledged offset

    def __attrs_post_init__(self) -> None:
        self.timeline = Timeline(ttl_s=self.ttl_s)

    # -- folding ---------------------------------------------------------------

    def apply(self, offset: int, ts: float, event: Event) -> None:
        """Fold one event in. Offsets must come in order, each once."""
        _APPLY[type(event)](self, offset, ts, event)
        self.head = offset
        if ts > self.last_ts:
            self.last_ts = ts
            self.timeline.forget_expired(ts)

    def _user_registered(self, offset: int, ts: float, event: UserRegistered) -> None:
        self.users.registered(offset, event)

    def _session_opened(self, offset: int, ts: float, event: SessionOpened) -> None:
        self.users.session_opened(offset, ts, event)

    def _session_closed(self, offset: int, ts: float, event: SessionClosed) -> None:
        self.users.session_closed(event)

    def _room_created(self, offset: int, ts: float, event: RoomCreated) -> None:
        self.rooms.created(offset, event)

    def _member_joined(self, offset: int, ts: float, event: MemberJoined) -> None:
        self.rooms.member_joined(offset, event)

    def _message_sent(self, offset: int, ts: float, event: MessageSent) -> None:
        self.timeline.sent(offset, ts, event)

    def _cursor_moved(self, offset: int, ts: float, event: CursorMoved) -> None:
        key = name_key(event.user)
        self.cursors[key] = max(self.cursors.get(key, 0), event.cursor)

    # -- ChatState, for the rules ------------------------------------------------

    def user_name(self, user: str) -> str | None:
        record = self.users.get(user)
        return None if record is None else record.name

    def room_kind(self, room: str) -> str | None:
        record = self.rooms.by_id.get(room)
        return None if record is None else record.kind

    def is_member(self, room: str, user: str) -> bool:
        record = self.rooms.by_id.get(room)
        return record is not None and name_key(user) in record.members

    def session_is_open(self, session: int) -> bool:
        return session in self.users.by_id

    def cursor_of(self, user: str) -> int:
        return self.cursors.get(name_key(user), 0)

    # -- visibility --------------------------------------------------------------

    def audience(self, offset: int, event: Event) -> frozenset[str] | None:
        """Name keys of the users who may see an event; None (EVERYONE) for all users."""
        match event:
            case MessageSent(room=room) | MemberJoined(room=room):
                return self._room_audience(room)
            case RoomCreated(room=room) if event.kind != "general":
                return self._room_audience(room)
            case CursorMoved(user=user):
                return frozenset((name_key(user),))
            case _:
                return frozenset()

    def _room_audience(self, room: str) -> frozenset[str] | None:
        if room == GENERAL:
            return EVERYONE
        record = self.rooms.by_id.get(room)
        return frozenset() if record is None else frozenset(record.members)

    def can_see(self, user_key: str, offset: int, event: Event, now: float) -> bool:
        """Whether a user may see this event (as of now) on `/events`."""
        match event:
            case MessageSent():
                joined = self.rooms.joined_at(event.room, user_key)
                return (
                    joined is not None
                    and joined <= offset
                    and self.timeline.get(offset, now) is not None
                )
            case MemberJoined(room=room) | RoomCreated(room=room):
                if isinstance(event, RoomCreated) and event.kind == "general":
                    return False
                record = self.rooms.by_id.get(room)
                joined = None if record is None else record.members.get(user_key)
                return joined is not None and joined <= offset
            case CursorMoved(user=user):
                return name_key(user) == user_key
            case _:
                return False

    # -- queries -----------------------------------------------------------------

    def message(self, message_id: int, now: float) -> MessageRecord | None:
        return self.timeline.get(message_id, now)

    def visible_rooms(self, user_key: str) -> list[RoomRecord]:
        ids = self.rooms.of_user.get(user_key, set())
        return sorted((self.rooms.by_id[i] for i in ids), key=_room_order)

    def unread_count(
        self, room: RoomRecord, user_key: str, *, cursor: int, upto: int, now: float
    ) -> int:
        after = self._seen_upto(room, user_key, cursor)
        return self.timeline.count_between(room.id, after, upto, now)

    def unread(
        self, user_key: str, *, cursor: int, upto: int, now: float, limit: int
    ) -> list[MessageRecord]:
        """Unexpired messages visible to the user after `cursor`, oldest first."""
        ids: list[int] = []
        for room in self.visible_rooms(user_key):
            after = self._seen_upto(room, user_key, cursor)
            ids.extend(self.timeline.ids_between(room.id, after, upto, now))
        ids.sort()
        return [self.timeline.messages[i] for i in ids[:limit]]

    def _seen_upto(self, room: RoomRecord, user_key: str, cursor: int) -> int:
        """The offset up to which nothing of the room is unread for the user."""
        joined = self.rooms.joined_at(room.id, user_key) or 0
        return max(cursor, joined - 1)

    def history(
        self, room: RoomRecord, user_key: str, *, before: int, limit: int, upto: int, now: float
    ) -> tuple[list[MessageRecord], bool]:
        """A page of the room, newest first, and whether older messages remain."""
        low = self.rooms.joined_at(room.id, user_key) or 0
        ids = self.timeline.ids_before(room.id, min(before, upto + 1), low, limit + 1, now)
        more = len(ids) > limit
        return [self.timeline.messages[i] for i in ids[:limit]], more

    def online(self) -> list[str]:
        """Names of users with at least one open session."""
        return sorted(
            (self.users.by_key[key].name for key in self.users.open_by_user), key=name_key
        )

    def member_names(self, room: RoomRecord) -> list[str]:
        return sorted((self.users.by_key[key].name for key in room.members), key=name_key)


def _room_order(room: RoomRecord) -> tuple[int, str]:
    return (0 if room.kind == "general" else 1 if room.kind == "group" else 2, room.id)


_APPLY: dict[type[Any], Callable[[ChatView, int, float, Any], None]] = {
    UserRegistered: ChatView._user_registered,
    SessionOpened: ChatView._session_opened,
    SessionClosed: ChatView._session_closed,
    RoomCreated: ChatView._room_created,
    MemberJoined: ChatView._member_joined,
    MessageSent: ChatView._message_sent,
    CursorMoved: ChatView._cursor_moved,
}


def fold(view: ChatView, records: Iterable[tuple[int, float, Event]]) -> ChatView:
    """Apply events in order; returns the same view, for chaining."""
    for offset, ts, event in records:
        view.apply(offset, ts, event)
    return view
