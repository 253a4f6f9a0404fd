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
_DECODERS: dict[str, tuple[type[Event], dict[str, frozenset[type]], tuple[str, ...]]] = {
    codec.name: (codec.cls, codec.exact_types(), codec.sequences()) for codec in EVENT_CODECS
}

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
    found = _DECODERS.get(name)
    if found is None:
        raise EventDecodeError(f"unknown event name {name!r}")
    cls, allowed, sequences = found
    # Replay runs this a million times at start: exact type lookups, no copies.
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
        return cls(**data)
    except TypeError as exc:  # a required field is missing
        raise EventDecodeError(f"{name}: {exc}") from None
