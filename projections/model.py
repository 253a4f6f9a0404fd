"""The chat's read model: every projection, folded from events by `apply`.

`ReadModel.apply(offset, ts, event)` never fails and never does I/O;
replaying the log is `apply` in a loop. The model also answers the rules
(`ChatState`) and the queries, which take `now` and `upto` (the highest
offset readers may see, i.e. the durable head) as arguments.

How this works: `EVENTS` at the bottom is the one table of what each event
type does here, one row per type: how it is folded, who it is for
(`audience`, a superset computed when the event is staged, used to wake
polls), and whether a given user may see it now (`can_see`, per event on
`/events`). Room events go to the room's members who had joined by then; a
direct room is its two users; `general` is everyone; a join request and its
decision go to the owner and the requester; a user's own cursor moves,
scheduled messages and ban go to that user's sessions; the rest is internal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from attrs import define, field, frozen

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
    MessageDeleted,
    MessageEdited,
    MessageScheduled,
    MessageSent,
    RoomCreated,
    RoomRead,
    ScheduledCancelled,
    ScheduledFailed,
    ScheduledState,
    SessionClosed,
    SessionOpened,
    SessionTouched,
    UserBanned,
    UserBlocked,
    UserRegistered,
    UserReported,
    UserUnblocked,
    name_key,
)
from projections.cursors import CursorTrail
from projections.moderation import Moderation
from projections.rooms import RoomRecord, Rooms
from projections.schedule import Schedule
from projections.timeline import MessageRecord, Timeline
from projections.users import Users

EVERYONE = None  # an audience of every user, see `ReadModel.audience`
Audience = frozenset[str] | None  # name keys of who may see an event; None: everyone


@define(kw_only=True, getstate_setstate=False)
class ReadModel:
    """Users, sessions, rooms, timelines, cursors, moderation and schedule of one log."""

    ttl_s: float
    rate_window_s: float = 3600.0
    head: int = 0
    last_ts: float = 0.0
    users: Users = field(factory=Users)
    rooms: Rooms = field(factory=Rooms)
    timeline: Timeline = field(init=False)
    moderation: Moderation = field(init=False)
    schedule: Schedule = field(init=False)
    cursors: dict[str, int] = field(factory=dict)  # name key -> acknowledged offset
    # name key -> room -> the offset up to which the user viewed the room
    read_marks: dict[str, dict[str, int]] = field(factory=dict)
    cursor_trail: CursorTrail = field(factory=CursorTrail)

    def __attrs_post_init__(self) -> None:
        self.timeline = Timeline(ttl_s=self.ttl_s)
        self.schedule = Schedule(ttl_s=self.ttl_s)
        self.moderation = Moderation(rate_window_s=self.rate_window_s)

    # -- folding ---------------------------------------------------------------

    def apply(self, offset: int, ts: float, event: Event) -> None:
        """Fold one event in. Offsets must come in order, each once."""
        EVENTS[type(event)].fold(self, offset, ts, event)
        self.head = offset
        if ts > self.last_ts:
            self.last_ts = ts
            if ts >= self.timeline.expires_at:
                self.timeline.forget_expired(ts)
            if ts >= self.schedule.forget_at:
                self.schedule.forget_ended(ts)

    def fold_until(self, ts: float | None) -> None:
        """Say that the next folds end with an event at time `ts` (None: nothing is known).

        A replay that knows its last event need not hold the messages that
        will have expired by then: the state it ends with is the same, and
        most of a long log's messages are skipped. Reset it (None) before
        folding anything past that event.
        """
        self.timeline.skip_expiring_before(ts)

    def message_sent(self, offset: int, ts: float, event: MessageSent) -> None:
        self.timeline.sent(offset, ts, event)
        if event.room == GENERAL:
            self.moderation.sent_to_general(event.author, ts)
        if event.scheduled is not None:
            self.schedule.ended(event.scheduled, "sent", ts)

    def message_commented(self, offset: int, ts: float, event: MessageCommented) -> None:
        self.timeline.commented(offset, ts, event)
        if event.room == GENERAL:
            self.moderation.sent_to_general(event.author, ts)

    def message_edited(self, offset: int, ts: float, event: MessageEdited) -> None:
        self.timeline.edited(ts, event)
        if event.room == GENERAL:  # an edit counts in the window as a send does
            self.moderation.sent_to_general(event.author, ts)

    def room_read(self, event: RoomRead) -> None:
        marks = self.read_marks.setdefault(name_key(event.user), {})
        marks[event.room] = max(marks.get(event.room, 0), event.upto)

    def cursor_moved(self, offset: int, ts: float, event: CursorMoved) -> None:
        key = name_key(event.user)
        self.cursors[key] = max(self.cursors.get(key, 0), event.cursor)
        self.users.cursor_moved(ts, event)
        session = event.session if event.session in self.users.by_id else None
        self.cursor_trail.moved(offset, key, session)

    def session_closed(self, event: SessionClosed) -> None:
        self.users.session_closed(event)
        self.cursor_trail.session_closed(event.session)

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

    def session_user(self, session: int) -> str | None:
        record = self.users.by_id.get(session)
        return None if record is None else record.user

    def least_recent_session(self, user: str) -> int | None:
        sessions = self.users.open_by_user.get(name_key(user), {})
        oldest = min(sessions.values(), key=lambda s: (s.last_active, s.id), default=None)
        return None if oldest is None else oldest.id

    def idle_sessions(self, since: float) -> list[tuple[str, int]]:
        return [(s.user, s.id) for s in self.users.by_id.values() if s.last_active < since]

    def user_with_skeleton(self, skeleton: str) -> str | None:
        key = self.users.by_skeleton.get(skeleton)
        return None if key is None else self.users.by_key[key].name

    def registered_ts(self, user: str) -> float | None:
        record = self.users.get(user)
        return None if record is None else record.registered_ts

    def blocks(self, user: str, other: str) -> bool:
        return name_key(other) in self.users.blocked.get(name_key(user), ())

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

    def message_author(self, message: int, now: float) -> str | None:
        record = self.timeline.get(message, now)
        return None if record is None else record.author

    def read_mark(self, user: str, room: str) -> int:
        return self.read_marks.get(name_key(user), {}).get(room, 0)

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

    # -- visibility (the rows of `EVENTS` decide) ---------------------------------

    def audience(self, offset: int, event: Event) -> Audience:
        """Name keys of the users who may see an event; None (EVERYONE) for all users."""
        return EVENTS[type(event)].audience(self, event)

    def can_see(self, user_key: str, offset: int, event: Event, now: float) -> bool:
        """Whether a user may see this event (as of now) on `/events`."""
        return EVENTS[type(event)].can_see(self, user_key, offset, event, now)

    def room_audience(self, room: str) -> Audience:
        """Everyone for `general`, else the room's members now."""
        if room == GENERAL:
            return EVERYONE
        record = self.rooms.by_id.get(room)
        return frozenset() if record is None else frozenset(record.members)

    def saw_room_at(self, room: str, user_key: str, offset: int) -> bool:
        joined = self.rooms.joined_at(room, user_key)
        return joined is not None and joined <= offset

    def member_since(self, room: str, user_key: str, offset: int) -> bool:
        record = self.rooms.by_id.get(room)
        joined = None if record is None else record.members.get(user_key)
        return joined is not None and joined <= offset

    # -- queries -----------------------------------------------------------------

    def message(self, message_id: int, now: float) -> MessageRecord | None:
        return self.timeline.get(message_id, now)

    def readable_message(self, user_key: str, message_id: int, now: float) -> MessageRecord | None:
        """An unexpired message the user may read (a member who had joined by then)."""
        record = self.timeline.get(message_id, now)
        if record is None or not self.saw_room_at(record.room, user_key, message_id):
            return None
        return record

    def visible_rooms(self, user_key: str) -> list[RoomRecord]:
        ids = self.rooms.of_user.get(user_key, set())
        return sorted((self.rooms.by_id[i] for i in ids), key=_room_order)

    def unread_count(
        self, room: RoomRecord, user_key: str, *, cursor: int, upto: int, now: float
    ) -> int:
        """Unread messages of a room for the user: after what they have seen, not their own."""
        after = self._seen_upto(room, user_key, cursor)
        return self.timeline.count_between(room.id, after, upto, now, not_by=user_key)

    def unread(
        self, user_key: str, *, cursor: int, upto: int, now: float, limit: int
    ) -> list[MessageRecord]:
        """Unexpired messages of others visible to the user after what they saw, oldest first."""
        ids: list[int] = []
        messages = self.timeline.messages
        for room in self.visible_rooms(user_key):
            after = self._seen_upto(room, user_key, cursor)
            found = self.timeline.ids_between(room.id, after, upto, now)
            ids.extend(i for i in found if name_key(messages[i].author) != user_key)
        ids.sort()
        return [messages[i] for i in ids[:limit]]

    def _seen_upto(self, room: RoomRecord, user_key: str, cursor: int) -> int:
        """The offset up to which nothing of the room is unread for the user.

        Their cursor, the room's read mark, and their join: what was said
        before someone joined is history for them, never unread.
        """
        joined = room.members.get(user_key, 0)
        viewed = self.read_marks.get(user_key, {}).get(room.id, 0)
        return max(cursor, joined - 1, viewed)

    def history(
        self, room: RoomRecord, user_key: str, *, before: int, limit: int, upto: int, now: float
    ) -> tuple[list[MessageRecord], bool]:
        """A page of the room, newest first, and whether older messages remain."""
        low = self.rooms.joined_at(room.id, user_key) or 0
        ids = self.timeline.ids_before(room.id, min(before, upto + 1), low, limit + 1, now)
        more = len(ids) > limit
        return [self.timeline.messages[i] for i in ids[:limit]], more

    def member_names(self, room: RoomRecord) -> list[str]:
        return sorted((self.users.by_key[key].name for key in room.members), key=name_key)


def _room_order(room: RoomRecord) -> tuple[int, str]:
    return (0 if room.kind == "general" else 1 if room.kind == "group" else 2, room.id)


# -- the table: one row per event type ----------------------------------------------

Fold = Callable[[ReadModel, int, float, Any], None]
Who = Callable[[ReadModel, Any], Audience]
Sees = Callable[[ReadModel, str, int, Any, float], bool]


@frozen
class EventRow:
    """What one event type does to the read model and who sees it."""

    fold: Fold
    audience: Who
    can_see: Sees


def _nobody(model: ReadModel, event: Any) -> Audience:
    return frozenset()


def _sees_nothing(model: ReadModel, user_key: str, offset: int, event: Any, now: float) -> bool:
    return False


_INTERNAL = (_nobody, _sees_nothing)


def _own(user_of: Callable[[Any], str]) -> tuple[Who, Sees]:
    """Seen by one user's sessions only (their cursor, their schedule, their ban)."""
    return (
        lambda m, e: frozenset((name_key(user_of(e)),)),
        lambda m, k, o, e, now: name_key(user_of(e)) == k,
    )


def _own_scheduled() -> tuple[Who, Sees]:
    """A scheduled message: its author's sessions, while the schedule remembers it."""
    who, sees = _own(lambda e: e.author)
    return who, lambda m, k, o, e, now: sees(m, k, o, e, now) and o in m.schedule.by_id


def _owner_and_user() -> tuple[Who, Sees]:
    """A join request and its decision: the room's owner and the requester."""

    def who(m: ReadModel, e: JoinRequested | JoinDecided) -> Audience:
        return frozenset(name_key(u) for u in (e.user, m.room_owner(e.room)) if u is not None)

    def sees(m: ReadModel, k: str, o: int, e: JoinRequested | JoinDecided, now: float) -> bool:
        return k in {name_key(e.user), name_key(m.room_owner(e.room) or "")}

    return who, sees


def _room_members(*, also_the_user: bool = False) -> tuple[Who, Sees]:
    """Room life (created, joined, left): the members who had joined by then."""

    def who(m: ReadModel, e: Any) -> Audience:
        if isinstance(e, RoomCreated) and e.kind == GENERAL:
            return frozenset()
        members = m.room_audience(e.room)
        if also_the_user and members is not None:
            return members | {name_key(e.user)}
        return members

    def sees(m: ReadModel, k: str, o: int, e: Any, now: float) -> bool:
        if isinstance(e, RoomCreated) and e.kind == GENERAL:
            return False
        if also_the_user and name_key(e.user) == k:
            return True
        return m.member_since(e.room, k, o)

    return who, sees


def _room_readers(message_of: Callable[[int, Any], int]) -> tuple[Who, Sees]:
    """Messages and their comments: who may read the message, while it lives.

    A comment is seen by exactly those who may read its message (members who
    had joined by then), the rule `GET /messages/{id}/comments` follows too.
    """

    def who(m: ReadModel, e: MessageSent | MessageCommented) -> Audience:
        return m.room_audience(e.room)

    def sees(m: ReadModel, k: str, o: int, e: MessageSent | MessageCommented, now: float) -> bool:
        message = message_of(o, e)
        return m.saw_room_at(e.room, k, message) and m.timeline.get(message, now) is not None

    return who, sees


def _readers_of_deleted() -> tuple[Who, Sees]:
    """A deleted message: those who could read it (it is gone, so no expiry to check)."""

    def who(m: ReadModel, e: MessageDeleted) -> Audience:
        return m.room_audience(e.room)

    def sees(m: ReadModel, k: str, o: int, e: MessageDeleted, now: float) -> bool:
        return m.saw_room_at(e.room, k, e.message)

    return who, sees


def _row(fold: Fold, visibility: tuple[Who, Sees] = _INTERNAL) -> EventRow:
    return EventRow(fold=fold, audience=visibility[0], can_see=visibility[1])


EVENTS: dict[type[Any], EventRow] = {
    UserRegistered: _row(lambda m, o, t, e: m.users.registered(o, t, e)),
    SessionOpened: _row(lambda m, o, t, e: m.users.session_opened(o, t, e)),
    SessionClosed: _row(lambda m, o, t, e: m.session_closed(e)),
    SessionTouched: _row(lambda m, o, t, e: m.users.session_touched(t, e)),
    UserBlocked: _row(lambda m, o, t, e: m.users.user_blocked(e), _own(lambda e: e.user)),
    UserUnblocked: _row(lambda m, o, t, e: m.users.user_unblocked(e), _own(lambda e: e.user)),
    RoomCreated: _row(lambda m, o, t, e: m.rooms.created(o, e), _room_members()),
    MemberJoined: _row(lambda m, o, t, e: m.rooms.member_joined(o, e), _room_members()),
    MemberLeft: _row(lambda m, o, t, e: m.rooms.member_left(e), _room_members(also_the_user=True)),
    LinkCreated: _row(lambda m, o, t, e: m.rooms.link_created(e)),
    LinkRevoked: _row(lambda m, o, t, e: m.rooms.link_revoked(e)),
    JoinRequested: _row(lambda m, o, t, e: m.rooms.join_requested(o, t, e), _owner_and_user()),
    JoinDecided: _row(lambda m, o, t, e: m.rooms.join_decided(e), _owner_and_user()),
    MessageSent: _row(ReadModel.message_sent, _room_readers(lambda o, e: o)),
    MessageCommented: _row(ReadModel.message_commented, _room_readers(lambda o, e: e.message)),
    MessageEdited: _row(ReadModel.message_edited, _room_readers(lambda o, e: e.message)),
    MessageDeleted: _row(lambda m, o, t, e: m.timeline.deleted(e), _readers_of_deleted()),
    RoomRead: _row(lambda m, o, t, e: m.room_read(e)),
    MessageScheduled: _row(lambda m, o, t, e: m.schedule.scheduled(o, e), _own_scheduled()),
    ScheduledCancelled: _row(
        lambda m, o, t, e: m.schedule.ended(e.scheduled, "cancelled", t), _own(lambda e: e.author)
    ),
    ScheduledFailed: _row(
        lambda m, o, t, e: m.schedule.ended(e.scheduled, "failed", t), _own(lambda e: e.author)
    ),
    UserReported: _row(lambda m, o, t, e: m.moderation.reported(e)),
    UserBanned: _row(lambda m, o, t, e: m.moderation.banned(e), _own(lambda e: e.user)),
    CursorMoved: _row(ReadModel.cursor_moved, _own(lambda e: e.user)),
}


def fold(model: ReadModel, records: Iterable[tuple[int, float, Event]]) -> ReadModel:
    """Apply events in order; returns the same view, for chaining."""
    for offset, ts, event in records:
        model.apply(offset, ts, event)
    return model
