"""The API's JSON objects as typed values, checked on the way in.

Every `from_json` raises `BadResponseError` when the server sends something
that does not have the shape of API.md, so that the rest of the client never
meets a `KeyError` (and the user never sees a traceback).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attrs import field, frozen

from client.jsonread import (
    array,
    flag,
    integer,
    integer_or_none,
    nullable_array,
    nullable_integer,
    number,
    obj,
    string,
    string_or_none,
    user_name,
)

__all__ = [
    "ApiErrorBody",
    "Event",
    "EventsPage",
    "HistoryPage",
    "Message",
    "Room",
    "Session",
    "Status",
    "Welcome",
]


@frozen(kw_only=True)
class Message:
    """A chat message; `id` is the offset of its `message.sent` event."""

    id: int
    room: str
    author: str
    text: str
    ts: float
    comments: int = 0
    file_name: str | None = None
    raw: Mapping[str, Any] = field(factory=dict, eq=False, repr=False)

    @classmethod
    def from_json(cls, value: object) -> Message:
        """Raises BadResponseError when `value` is not a message object."""
        fields = obj(value, "message")
        file = fields.get("file")
        return cls(
            id=integer(fields, "id", "message"),
            room=string(fields, "room", "message"),
            author=string(fields, "author", "message"),
            text=string(fields, "text", "message"),
            ts=number(fields, "ts", "message"),
            comments=integer_or_none(fields, "comments") or 0,
            file_name=string_or_none(file, "name") if isinstance(file, dict) else None,
            raw=fields,
        )


@frozen(kw_only=True)
class Room:
    """A room the user is a member of (`unread` is absent from events)."""

    id: str
    name: str
    kind: str
    owner: str | None
    members: tuple[str, ...]
    unread: int | None = None
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
            members=tuple(user_name(m, "room.members[]") for m in members),
            unread=integer_or_none(fields, "unread"),
            raw=fields,
        )


@frozen(kw_only=True)
class Session:
    """One open session of the user."""

    id: int
    opened_at: float
    current: bool

    @classmethod
    def from_json(cls, value: object) -> Session:
        """Raises BadResponseError when `value` is not a session object."""
        fields = obj(value, "session")
        return cls(
            id=integer(fields, "id", "session"),
            opened_at=number(fields, "opened_at", "session"),
            current=flag(fields, "current"),
        )


@frozen(kw_only=True)
class Status:
    """`GET /status`."""

    user: str
    log: str
    offset: int
    cursor: int
    rooms: tuple[Room, ...]
    online: tuple[str, ...]
    sessions: tuple[Session, ...]
    raw: Mapping[str, Any] = field(factory=dict, eq=False, repr=False)

    @classmethod
    def from_json(cls, value: object) -> Status:
        """Raises BadResponseError when `value` is not a status object."""
        fields = obj(value, "status")
        return cls(
            user=user_name(fields.get("user"), "status.user"),
            log=string(fields, "log", "status"),
            offset=integer(fields, "offset", "status"),
            cursor=integer(fields, "cursor", "status"),
            rooms=tuple(Room.from_json(r) for r in array(fields, "rooms", "status")),
            online=tuple(
                user_name(u, "status.online[]") for u in array(fields, "online", "status")
            ),
            sessions=tuple(
                Session.from_json(s) for s in nullable_array(fields, "sessions", "status") or ()
            ),
            raw=fields,
        )


@frozen(kw_only=True)
class Welcome:
    """`POST /connect`."""

    token: str
    user: str
    log: str
    offset: int
    cursor: int
    general: tuple[Message, ...]
    unread: tuple[Message, ...]
    unread_truncated: bool
    rooms: tuple[Room, ...]
    new_user: bool = False

    @classmethod
    def from_json(cls, value: object, *, new_user: bool = False) -> Welcome:
        """Raises BadResponseError when `value` is not a connect answer."""
        fields = obj(value, "connect")
        general = obj(fields.get("general"), "connect.general")
        return cls(
            token=string(fields, "token", "connect"),
            user=user_name(fields.get("user"), "connect.user"),
            log=string(fields, "log", "connect"),
            offset=integer(fields, "offset", "connect"),
            cursor=integer(fields, "cursor", "connect"),
            general=tuple(Message.from_json(m) for m in array(general, "messages", "general")),
            unread=tuple(Message.from_json(m) for m in array(fields, "unread", "connect")),
            unread_truncated=flag(fields, "unread_truncated"),
            rooms=tuple(Room.from_json(r) for r in array(fields, "rooms", "connect")),
            new_user=new_user,
        )


@frozen(kw_only=True)
class Event:
    """One event of `/events`: its offset, time, type, and the raw object for `--json`."""

    offset: int
    ts: float
    type: str
    raw: Mapping[str, Any] = field(eq=False, repr=False)
    message: Message | None = None

    @classmethod
    def from_json(cls, value: object) -> Event:
        """Raises BadResponseError when `value` is not an event object."""
        fields = obj(value, "event")
        kind = string(fields, "type", "event")
        message = Message.from_json(fields.get("message")) if kind == "message.sent" else None
        return cls(
            offset=integer(fields, "offset", "event"),
            ts=number(fields, "ts", "event"),
            type=kind,
            raw=fields,
            message=message,
        )


@frozen(kw_only=True)
class EventsPage:
    """`GET /events`: the events after `after`, and the offset to ask from next."""

    events: tuple[Event, ...]
    next: int
    log: str

    @classmethod
    def from_json(cls, value: object) -> EventsPage:
        """Raises BadResponseError when `value` is not an events page."""
        fields = obj(value, "events page")
        return cls(
            events=tuple(Event.from_json(e) for e in array(fields, "events", "events page")),
            next=integer(fields, "next", "events page"),
            log=string(fields, "log", "events page"),
        )


@frozen(kw_only=True)
class HistoryPage:
    """`GET /rooms/{room}/messages`: newest first, and where the next older page starts."""

    messages: tuple[Message, ...]
    next_before: int | None
    raw: Mapping[str, Any] = field(factory=dict, eq=False, repr=False)

    @classmethod
    def from_json(cls, value: object) -> HistoryPage:
        """Raises BadResponseError when `value` is not a history page."""
        fields = obj(value, "history page")
        return cls(
            messages=tuple(Message.from_json(m) for m in array(fields, "messages", "history page")),
            next_before=nullable_integer(fields, "next_before", "history page"),
            raw=fields,
        )


@frozen(kw_only=True)
class ApiErrorBody:
    """`{"error": {"code", "message", ...}}`; anything else becomes a generic error."""

    code: str
    message: str
    extra: Mapping[str, Any] = field(factory=dict, eq=False)

    @classmethod
    def from_json(cls, value: object, status: int) -> ApiErrorBody:
        """Never raises: a body without the error shape is described by its status."""
        error = value.get("error") if isinstance(value, dict) else None
        if isinstance(error, dict):
            code, message = error.get("code"), error.get("message")
            if isinstance(code, str) and isinstance(message, str):
                extra = {k: v for k, v in error.items() if k not in ("code", "message")}
                return cls(code=code, message=message, extra=extra)
        return cls(code=f"http_{status}", message=f"the server answered {status}")
