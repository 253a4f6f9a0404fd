"""The chat's read model: every projection, folded from events by `apply`.

`ChatView.apply(offset, ts, event)` never fails and never does I/O; replaying
the log is `apply` in a loop. The view also answers the rules (`ChatState`)
and the queries, which take `now` and `upto` (the highest offset readers may
see, i.e. the durable head) as arguments.

Visibility, in one place (`audience` for waking polls, `can_see` per event):
room events go to the room's members who had joined by then; a direct room
is its two users; `general` is everyone; a join request and its decision go
to the owner and the requester; a user's own cursor moves, scheduled
messages and ban go to that user's sessions; the rest is internal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from attrs import define, field

from domain import (
    GENERAL,
    Counts,
    CursorMoved,
    Event,
    JoinDecided,
    JoinRequested,
    LinkCreated,
    LinkRevoked,
    MemberJoined,
    MemberLeft,
    MessageCommented,
    MessageScheduled,
    MessageSent,
    RoomCreated,
    ScheduledCancelled,
    ScheduledFailed,
    ScheduledState,
    SessionClosed,
    SessionOpened,
    UserBanned,
    UserRegistered,
    UserReported,
    name_key,
)
from projections.moderation import Moderation
from projections.rooms import RoomRecord, Rooms
from projections.schedule import Schedule
from projections.timeline import CommentRecord, MessageRecord, Timeline
from projections.users import Users

EVERYONE = None  # an audience of every user, see `ChatView.audience`


@define(kw_only=True)
class ChatView:
    """Users, sessions, rooms, timelines, cursors, moderation and schedule of one log."""

    ttl_s: float
    rate_window_s: float = 3600.0
    head: int = 0
    last_ts: float = 0.0
    users: Users = field(factory=Users)
    rooms: Rooms = field(factory=Rooms)
    timeline: Timeline = field(init=False)
    moderation: Moderation = field(init=False)
    schedule: Schedule = field(factory=Schedule)
    cursors: dict[str, int] = field(factory=dict)  # name key -> acknowledged offset

    def __attrs_post_init__(self) -> None:
        self.timeline = Timeline(ttl_s=self.ttl_s)
        self.moderation = Moderation(rate_window_s=self.rate_window_s)

    # -- folding ---------------------------------------------------------------

    def apply(self, offset: int, ts: float, event: Event) -> None:
        """Fold one event in. Offsets must come in order, each once."""
        _APPLY[type(event)](self, offset, ts, event)
        self.head = offset
        if ts > self.last_ts:
            self.last_ts = ts
            if ts > self.timeline.expires_at:
                self.timeline.forget_expired(ts)

    def _message_sent(self, offset: int, ts: float, event: MessageSent) -> None:
        self.timeline.sent(offset, ts, event)
        if event.room == GENERAL:
            self.moderation.sent_to_general(event.author, ts)
        if event.scheduled is not None:
            self.schedule.ended(event.scheduled, "sent")

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

    def room_owner(self, room: str) -> str | None:
        record = self.rooms.by_id.get(room)
        return None if record is None else record.owner

    def joined_at(self, room: str, user: str) -> int | None:
        return self.rooms.joined_at(room, name_key(user))

    def is_member(self, room: str, user: str) -> bool:
        return self.joined_at(room, user) is not None

    def member_count(self, room: str) -> int:
        record = self.rooms.by_id.get(room)
        return 0 if record is None else len(record.members)

    def session_is_open(self, session: int) -> bool:
        return session in self.users.by_id

    def cursor_of(self, user: str) -> int:
        """The user's acknowledged offset; a new user starts at their registration.

        What came before someone registered is not "unread" for them: they get
        the last messages of `general` on connect instead.
        """
        key = name_key(user)
        cursor = self.cursors.get(key)
        if cursor is not None:
            return cursor
        record = self.users.by_key.get(key)
        return 0 if record is None else record.registered_at

    def banned_until(self, user: str) -> float | None:
        return self.moderation.bans.get(name_key(user))

    def general_window(self, user: str) -> tuple[float, int] | None:
        return self.moderation.windows.get(name_key(user))

    def reporters_of(self, user: str) -> frozenset[str]:
        return frozenset(self.moderation.reporters.get(name_key(user), ()))

    def scheduled(self, scheduled: int) -> ScheduledState | None:
        return self.schedule.by_id.get(scheduled)

    def message_room(self, message: int, now: float) -> str | None:
        record = self.timeline.get(message, now)
        return None if record is None else record.room

    def link_room(self, link_hash: str) -> str | None:
        return self.rooms.links.get(link_hash)

    def counts(self, user: str, room: str | None = None) -> Counts:
        key = name_key(user)
        return Counts(
            open_sessions=len(self.users.open_by_user.get(key, ())),
            pending_scheduled=len(self.schedule.pending_of(key)),
            owned_rooms=self.rooms.owned.get(key, 0),
            room_links=0 if room is None else sum(r == room for r in self.rooms.links.values()),
        )

    def join_pending(self, room: str, user: str) -> bool:
        record = self.rooms.by_id.get(room)
        return record is not None and name_key(user) in record.requests

    # -- visibility --------------------------------------------------------------

    def audience(self, offset: int, event: Event) -> frozenset[str] | None:
        """Name keys of the users who may see an event; None (EVERYONE) for all users."""
        match event:
            case MessageSent(room=room) | MemberJoined(room=room) | MessageCommented(room=room):
                return self._room_audience(room)
            case RoomCreated(room=room) if event.kind != "general":
                return self._room_audience(room)
            case MemberLeft(room=room, user=user):
                members = self._room_audience(room)
                return None if members is None else members | {name_key(user)}
            case JoinRequested(room=room, user=user) | JoinDecided(room=room, user=user):
                owner = self.room_owner(room)
                return frozenset(name_key(u) for u in (user, owner) if u is not None)
            case (
                CursorMoved(user=user)
                | UserBanned(user=user)
                | MessageScheduled(author=user)
                | ScheduledCancelled(author=user)
                | ScheduledFailed(author=user)
            ):
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
                return (
                    self._saw_room_at(event.room, user_key, offset)
                    and self.timeline.get(offset, now) is not None
                )
            case MessageCommented(message=message, room=room):
                return (
                    self._saw_room_at(room, user_key, offset)
                    and self.timeline.get(message, now) is not None
                )
            case RoomCreated(room=room) if event.kind != "general":
                return self._member_since(room, user_key, offset)
            case MemberJoined(room=room):
                return self._member_since(room, user_key, offset)
            case MemberLeft(room=room, user=user):
                return name_key(user) == user_key or self._member_since(room, user_key, offset)
            case JoinRequested(room=room, user=user) | JoinDecided(room=room, user=user):
                owner = self.room_owner(room)
                return user_key in {name_key(user), name_key(owner or "")}
            case (
                CursorMoved(user=user)
                | UserBanned(user=user)
                | MessageScheduled(author=user)
                | ScheduledCancelled(author=user)
                | ScheduledFailed(author=user)
            ):
                return name_key(user) == user_key
            case _:
                return False

    def _saw_room_at(self, room: str, user_key: str, offset: int) -> bool:
        joined = self.rooms.joined_at(room, user_key)
        return joined is not None and joined <= offset

    def _member_since(self, room: str, user_key: str, offset: int) -> bool:
        record = self.rooms.by_id.get(room)
        joined = None if record is None else record.members.get(user_key)
        return joined is not None and joined <= offset

    # -- queries -----------------------------------------------------------------

    def message(self, message_id: int, now: float) -> MessageRecord | None:
        return self.timeline.get(message_id, now)

    def readable_message(self, user_key: str, message_id: int, now: float) -> MessageRecord | None:
        """An unexpired message the user may read (a member who had joined by then)."""
        record = self.timeline.get(message_id, now)
        if record is None or not self._saw_room_at(record.room, user_key, message_id):
            return None
        return record

    def comments_of(self, message_id: int) -> list[CommentRecord]:
        return list(self.timeline.comments.get(message_id, ()))

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
    UserRegistered: lambda v, o, t, e: v.users.registered(o, e),
    SessionOpened: lambda v, o, t, e: v.users.session_opened(o, t, e),
    SessionClosed: lambda v, o, t, e: v.users.session_closed(e),
    RoomCreated: lambda v, o, t, e: v.rooms.created(o, e),
    MemberJoined: lambda v, o, t, e: v.rooms.member_joined(o, e),
    MemberLeft: lambda v, o, t, e: v.rooms.member_left(e),
    LinkCreated: lambda v, o, t, e: v.rooms.link_created(e),
    LinkRevoked: lambda v, o, t, e: v.rooms.link_revoked(e),
    JoinRequested: lambda v, o, t, e: v.rooms.join_requested(o, t, e),
    JoinDecided: lambda v, o, t, e: v.rooms.join_decided(e),
    MessageSent: ChatView._message_sent,
    MessageCommented: lambda v, o, t, e: v.timeline.commented(o, t, e),
    MessageScheduled: lambda v, o, t, e: v.schedule.scheduled(o, e),
    ScheduledCancelled: lambda v, o, t, e: v.schedule.ended(e.scheduled, "cancelled"),
    ScheduledFailed: lambda v, o, t, e: v.schedule.ended(e.scheduled, "failed"),
    UserReported: lambda v, o, t, e: v.moderation.reported(e),
    UserBanned: lambda v, o, t, e: v.moderation.banned(e),
    CursorMoved: ChatView._cursor_moved,
}


def fold(view: ChatView, records: Iterable[tuple[int, float, Event]]) -> ChatView:
    """Apply events in order; returns the same view, for chaining."""
    for offset, ts, event in records:
        view.apply(offset, ts, event)
    return view
