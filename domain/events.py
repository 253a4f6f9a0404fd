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


@frozen(kw_only=True)
class MessageSent:
    room: str
    author: str
    text: str
    idempotency_key: str | None = None


@frozen(kw_only=True)
class CursorMoved:
    user: str
    cursor: int
    session: int | None = None  # the session whose acknowledgement moved it


Event = (
    UserRegistered
    | SessionOpened
    | SessionClosed
    | RoomCreated
    | MemberJoined
    | MessageSent
    | CursorMoved
)

_FieldTypes = Mapping[str, type | tuple[type, ...]]


@frozen
class EventCodec:
    """How one event class is stored: its persisted name and field types."""

    name: str
    cls: type[Event]
    fields: _FieldTypes
    optional: frozenset[str] = frozenset()


EVENT_CODECS: tuple[EventCodec, ...] = (
    EventCodec("user.registered.v1", UserRegistered, {"user": str, "password_hash": str}),
    EventCodec("session.opened.v1", SessionOpened, {"user": str, "token_hash": str}),
    EventCodec("session.closed.v1", SessionClosed, {"user": str, "session": int}),
    EventCodec(
        "room.created.v1",
        RoomCreated,
        {"room": str, "kind": str, "name": str, "owner": (str, NoneType), "members": tuple},
        frozenset({"owner"}),
    ),
    EventCodec("room.member_joined.v1", MemberJoined, {"room": str, "user": str}),
    EventCodec(
        "message.sent.v1",
        MessageSent,
        {"room": str, "author": str, "text": str, "idempotency_key": (str, NoneType)},
        frozenset({"idempotency_key"}),
    ),
    EventCodec(
        "cursor.moved.v1",
        CursorMoved,
        {"user": str, "cursor": int, "session": (int, NoneType)},
        frozenset({"session"}),
    ),
)

_BY_NAME: dict[str, EventCodec] = {codec.name: codec for codec in EVENT_CODECS}
_BY_CLASS: dict[type[Event], EventCodec] = {codec.cls: codec for codec in EVENT_CODECS}

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
    if name in UPCASTERS:
        name, data = UPCASTERS[name](dict(data))
    codec = _BY_NAME.get(name)
    if codec is None:
        raise EventDecodeError(f"unknown event name {name!r}")
    kwargs: dict[str, Any] = {}
    for field_name, value in data.items():
        expected = codec.fields.get(field_name)
        if expected is None:
            raise EventDecodeError(f"{name}: unknown field {field_name!r}")
        if expected is tuple:
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                raise EventDecodeError(f"{name}: field {field_name!r} must be a list of strings")
            kwargs[field_name] = tuple(value)
        elif not isinstance(value, expected) or isinstance(value, bool):
            raise EventDecodeError(f"{name}: field {field_name!r} has the wrong type")
        else:
            kwargs[field_name] = value
    missing = codec.fields.keys() - kwargs.keys() - codec.optional
    if missing:
        raise EventDecodeError(f"{name}: missing fields {sorted(missing)}")
    return codec.cls(**kwargs)
