"""Domain events and their versioned names on disk.

How this works: every event is a small frozen record. `EVENT_CODECS` is the
one table from the persisted name (`message.sent.v1`) to the class and the
type of each field; `encode` and `decode` go through it and nothing else.
Optional fields that are `None` are left out on disk. A name that is not in
the table, a missing or unknown field, or a field of the wrong type raises
`EventDecodeError`: a log is never read half-understood. When an event
changes shape, its new version gets a new name and the old name an
upcaster in `UPCASTERS` that rewrites old fields into the new shape.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import NoneType
from typing import Any

from attrs import frozen


class EventDecodeError(Exception):
    """A stored event this code cannot read (unknown name, bad fields)."""


@frozen(kw_only=True)
class UserRegistered:
    user: str
    password_hash: str


@frozen(kw_only=True)
class SessionOpened:
    user: str
    token_hash: str  # SHA-256 of the bearer token; the token itself is never stored


@frozen(kw_only=True)
class SessionClosed:
    user: str
    session: int  # offset of the session's `session.opened`
    reason: str | None = None  # signed_out | revoked | evicted | expired (None: signed out)


@frozen(kw_only=True)
class SessionTouched:
    """A session was used (persisted at most once a day, so idle ones can expire)."""

    user: str
    session: int


@frozen(kw_only=True)
class UserBlocked:
    user: str  # who blocks
    blocked: str


@frozen(kw_only=True)
class UserUnblocked:
    user: str
    blocked: str


@frozen(kw_only=True)
class RoomCreated:
    room: str
    kind: str  # "general" | "group" | "direct"
    name: str
    members: tuple[str, ...]
    owner: str | None = None


@frozen(kw_only=True)
class MemberJoined:
    room: str
    user: str
    by: str | None = None  # who let them in: the inviting or approving owner


@frozen(kw_only=True)
class MemberLeft:
    room: str
    user: str


@frozen(kw_only=True)
class LinkCreated:
    room: str
    link_hash: str  # SHA-256 of the join token; the token itself is never stored
    by: str


@frozen(kw_only=True)
class LinkRevoked:
    room: str
    link_hash: str
    by: str


@frozen(kw_only=True)
class JoinRequested:
    room: str
    user: str
    link_hash: str


@frozen(kw_only=True)
class JoinDecided:
    room: str
    user: str
    approved: bool
    by: str


@frozen(kw_only=True)
class MessageSent:
    room: str
    author: str
    text: str
    idempotency_key: str | None = None
    scheduled: int | None = None  # id of the `message.scheduled` it delivers
    file_name: str | None = None  # the four file_* fields come together, or none
    file_size: int | None = None
    file_type: str | None = None
    file_sha256: str | None = None


@frozen(kw_only=True)
class MessageCommented:
    message: int
    room: str
    author: str
    text: str


@frozen(kw_only=True)
class MessageScheduled:
    author: str
    text: str
    send_at: float
    room: str | None = None  # a room, or `to` for a direct message
    to: str | None = None
    idempotency_key: str | None = None


@frozen(kw_only=True)
class ScheduledCancelled:
    scheduled: int
    author: str


@frozen(kw_only=True)
class ScheduledFailed:
    scheduled: int
    author: str
    reason: str  # the error code that stopped it: banned, not_member, not_found, rate_limited


@frozen(kw_only=True)
class UserReported:
    user: str
    reporter: str
    reason: str | None = None


@frozen(kw_only=True)
class UserBanned:
    user: str
    until: float


@frozen(kw_only=True)
class CursorMoved:
    user: str
    cursor: int
    session: int | None = None  # the session whose acknowledgement moved it


Event = (
    UserRegistered
    | SessionOpened
    | SessionClosed
    | SessionTouched
    | UserBlocked
    | UserUnblocked
    | RoomCreated
    | MemberJoined
    | MemberLeft
    | LinkCreated
    | LinkRevoked
    | JoinRequested
    | JoinDecided
    | MessageSent
    | MessageCommented
    | MessageScheduled
    | ScheduledCancelled
    | ScheduledFailed
    | UserReported
    | UserBanned
    | CursorMoved
)

_FieldTypes = Mapping[str, type | tuple[type, ...]]


@frozen
class EventCodec:
    """How one event class is stored: its persisted name and field types.

    A field typed `tuple` holds a list of strings on disk.
    """

    name: str
    cls: type[Event]
    fields: _FieldTypes
    optional: frozenset[str] = frozenset()

    def exact_types(self) -> dict[str, frozenset[type]]:
        """Each field's allowed types, matched exactly (so a bool is not an int)."""
        return {
            name: frozenset((list, tuple) if t is tuple else t if isinstance(t, tuple) else (t,))
            for name, t in self.fields.items()
        }

    def sequences(self) -> tuple[str, ...]:
        return tuple(name for name, t in self.fields.items() if t is tuple)


_OPT_STR = (str, NoneType)
_OPT_INT = (int, NoneType)

EVENT_CODECS: tuple[EventCodec, ...] = (
    EventCodec("user.registered.v1", UserRegistered, {"user": str, "password_hash": str}),
    EventCodec("session.opened.v1", SessionOpened, {"user": str, "token_hash": str}),
    EventCodec(
        "session.closed.v1",
        SessionClosed,
        {"user": str, "session": int, "reason": _OPT_STR},
        frozenset({"reason"}),
    ),
    EventCodec("session.touched.v1", SessionTouched, {"user": str, "session": int}),
    EventCodec("user.blocked.v1", UserBlocked, {"user": str, "blocked": str}),
    EventCodec("user.unblocked.v1", UserUnblocked, {"user": str, "blocked": str}),
    EventCodec(
        "room.created.v1",
        RoomCreated,
        {"room": str, "kind": str, "name": str, "owner": _OPT_STR, "members": tuple},
        frozenset({"owner"}),
    ),
    EventCodec(
        "room.member_joined.v1",
        MemberJoined,
        {"room": str, "user": str, "by": _OPT_STR},
        frozenset({"by"}),
    ),
    EventCodec("room.member_left.v1", MemberLeft, {"room": str, "user": str}),
    EventCodec("room.link_created.v1", LinkCreated, {"room": str, "link_hash": str, "by": str}),
    EventCodec("room.link_revoked.v1", LinkRevoked, {"room": str, "link_hash": str, "by": str}),
    EventCodec(
        "room.join_requested.v1", JoinRequested, {"room": str, "user": str, "link_hash": str}
    ),
    EventCodec(
        "room.join_decided.v1",
        JoinDecided,
        {"room": str, "user": str, "approved": bool, "by": str},
    ),
    EventCodec(
        "message.sent.v1",
        MessageSent,
        {
            "room": str,
            "author": str,
            "text": str,
            "idempotency_key": _OPT_STR,
            "scheduled": _OPT_INT,
            "file_name": _OPT_STR,
            "file_size": _OPT_INT,
            "file_type": _OPT_STR,
            "file_sha256": _OPT_STR,
        },
        frozenset(
            {"idempotency_key", "scheduled", "file_name", "file_size", "file_type", "file_sha256"}
        ),
    ),
    EventCodec(
        "message.commented.v1",
        MessageCommented,
        {"message": int, "room": str, "author": str, "text": str},
    ),
    EventCodec(
        "message.scheduled.v1",
        MessageScheduled,
        {
            "author": str,
            "text": str,
            "send_at": float,
            "room": _OPT_STR,
            "to": _OPT_STR,
            "idempotency_key": _OPT_STR,
        },
        frozenset({"room", "to", "idempotency_key"}),
    ),
    EventCodec("message.cancelled.v1", ScheduledCancelled, {"scheduled": int, "author": str}),
    EventCodec(
        "message.schedule_failed.v1",
        ScheduledFailed,
        {"scheduled": int, "author": str, "reason": str},
    ),
    EventCodec(
        "user.reported.v1",
        UserReported,
        {"user": str, "reporter": str, "reason": _OPT_STR},
        frozenset({"reason"}),
    ),
    EventCodec("user.banned.v1", UserBanned, {"user": str, "until": float}),
    EventCodec(
        "cursor.moved.v1",
        CursorMoved,
        {"user": str, "cursor": int, "session": _OPT_INT},
        frozenset({"session"}),
    ),
)

_BY_NAME: dict[str, EventCodec] = {codec.name: codec for codec in EVENT_CODECS}
_BY_CLASS: dict[type[Event], EventCodec] = {codec.cls: codec for codec in EVENT_CODECS}
_DECODERS: dict[str, tuple[type[Event], dict[str, frozenset[type]], tuple[str, ...]]] = {
    codec.name: (codec.cls, codec.exact_types(), codec.sequences()) for codec in EVENT_CODECS
}

# Shapes (name, field names, field types) that decoded: later records of one skip the checks.
_GOOD_SHAPES: set[tuple[str, tuple[str, ...], tuple[type, ...]]] = set()
_MAX_GOOD_SHAPES = 4096

# Old persisted name -> a function giving the current name and fields.
UPCASTERS: dict[str, Callable[[dict[str, Any]], tuple[str, dict[str, Any]]]] = {}


def event_type(event: Event) -> str:
    """The name clients see: the persisted name without its version."""
    return _BY_CLASS[type(event)].name.rsplit(".", 1)[0]


def encode(event: Event) -> tuple[str, dict[str, Any]]:
    """The persisted name and msgpack-ready fields of an event."""
    codec = _BY_CLASS[type(event)]
    data: dict[str, Any] = {}
    for field_name in codec.fields:
        value = getattr(event, field_name)
        if value is None and field_name in codec.optional:
            continue
        data[field_name] = list(value) if isinstance(value, tuple) else value
    return codec.name, data


def decode(name: str, data: Mapping[str, Any]) -> Event:
    """The event a stored name and fields stand for.

    Raises EventDecodeError for an unknown name or fields that do not fit.
    """
    found = _DECODERS.get(name)
    if found is None and name in UPCASTERS:
        name, data = UPCASTERS[name](dict(data))
        found = _DECODERS.get(name)
    if found is None:
        raise EventDecodeError(f"unknown event name {name!r}")
    cls, allowed, sequences = found
    # Replay runs this a million times at start. The names and types of a record's
    # fields are its shape; a log holds few shapes, so each is checked once.
    shape = (name, tuple(data), tuple(map(type, data.values())))
    if not sequences and shape in _GOOD_SHAPES:
        try:
            return cls(**data)
        except TypeError as exc:  # cannot happen for a shape that decoded before
            raise EventDecodeError(f"{name}: {exc}") from None
    for field_name, value in data.items():
        types = allowed.get(field_name)
        if types is None:
            raise EventDecodeError(f"{name}: unknown field {field_name!r}")
        if type(value) not in types:
            raise EventDecodeError(f"{name}: field {field_name!r} has the wrong type")
    if sequences:
        data = dict(data)
        for field_name in sequences:
            value = data.get(field_name, ())
            if not all(type(item) is str for item in value):
                raise EventDecodeError(f"{name}: field {field_name!r} must be a list of strings")
            data[field_name] = tuple(value)
    try:
        event = cls(**data)
    except TypeError as exc:  # a required field is missing
        raise EventDecodeError(f"{name}: {exc}") from None
    if not sequences and len(_GOOD_SHAPES) < _MAX_GOOD_SHAPES:
        _GOOD_SHAPES.add(shape)
    return event
