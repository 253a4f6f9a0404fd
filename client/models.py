"""The API's JSON objects as typed values, checked on the way in.

Every `from_json` raises `BadResponseError` when the server sends something
that does not have the shape of API.md, so that the rest of the client never
meets a `KeyError` (and the user never sees a traceback).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attrs import field, frozen

from client.http import BadResponseError

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


def _obj(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise BadResponseError(f"{what} is not a JSON object")
    return value


def _get(obj: Mapping[str, Any], key: str, kind: type | tuple[type, ...], what: str) -> Any:
    value = obj.get(key)
    # bool is an int subclass, but a JSON true is never a number, string or list here.
    if isinstance(value, bool) or not isinstance(value, kind):
        names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise BadResponseError(f"{what}.{key} is missing or not {names}")
    return value


def _int(obj: Mapping[str, Any], key: str, what: str) -> int:
    value: int = _get(obj, key, int, what)
    return value


def _num(obj: Mapping[str, Any], key: str, what: str) -> float:
    return float(_get(obj, key, (int, float), what))


def _str(obj: Mapping[str, Any], key: str, what: str) -> str:
    value: str = _get(obj, key, str, what)
    return value


def _list(obj: Mapping[str, Any], key: str, what: str) -> list[Any]:
    value: list[Any] = _get(obj, key, list, what)
    return value


def _user_name(value: object, what: str) -> str:
    """A user is `{"name": ...}`; a bare name is accepted too."""
    if isinstance(value, str):
        return value
    return _str(_obj(value, what), "name", what)


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
        obj = _obj(value, "message")
        file = obj.get("file")
        file_name = file.get("name") if isinstance(file, dict) else None
        comments = obj.get("comments", 0)
        return cls(
            id=_int(obj, "id", "message"),
            room=_str(obj, "room", "message"),
            author=_str(obj, "author", "message"),
            text=_str(obj, "text", "message"),
            ts=_num(obj, "ts", "message"),
            comments=comments if isinstance(comments, int) else 0,
            file_name=file_name if isinstance(file_name, str) else None,
            raw=obj,
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
        obj = _obj(value, "room")
        owner = obj.get("owner")
        unread = obj.get("unread")
        members = _list(obj, "members", "room")
        return cls(
            id=_str(obj, "id", "room"),
            name=_str(obj, "name", "room"),
            kind=_str(obj, "kind", "room"),
            owner=owner if isinstance(owner, str) else None,
            members=tuple(_user_name(m, "room.members[]") for m in members),
            unread=unread if isinstance(unread, int) and not isinstance(unread, bool) else None,
            raw=obj,
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
        obj = _obj(value, "session")
        return cls(
            id=_int(obj, "id", "session"),
            opened_at=_num(obj, "opened_at", "session"),
            current=obj.get("current") is True,
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
        obj = _obj(value, "status")
        return cls(
            user=_user_name(obj.get("user"), "status.user"),
            log=_str(obj, "log", "status"),
            offset=_int(obj, "offset", "status"),
            cursor=_int(obj, "cursor", "status"),
            rooms=tuple(Room.from_json(r) for r in _list(obj, "rooms", "status")),
            online=tuple(_user_name(u, "status.online[]") for u in _list(obj, "online", "status")),
            sessions=tuple(Session.from_json(s) for s in obj.get("sessions", ()) or ()),
            raw=obj,
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
        obj = _obj(value, "connect")
        general = _obj(obj.get("general"), "connect.general")
        return cls(
            token=_str(obj, "token", "connect"),
            user=_user_name(obj.get("user"), "connect.user"),
            log=_str(obj, "log", "connect"),
            offset=_int(obj, "offset", "connect"),
            cursor=_int(obj, "cursor", "connect"),
            general=tuple(Message.from_json(m) for m in _list(general, "messages", "general")),
            unread=tuple(Message.from_json(m) for m in _list(obj, "unread", "connect")),
            unread_truncated=obj.get("unread_truncated") is True,
            rooms=tuple(Room.from_json(r) for r in _list(obj, "rooms", "connect")),
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
        obj = _obj(value, "event")
        kind = _str(obj, "type", "event")
        message = Message.from_json(obj.get("message")) if kind == "message.sent" else None
        return cls(
            offset=_int(obj, "offset", "event"),
            ts=_num(obj, "ts", "event"),
            type=kind,
            raw=obj,
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
        obj = _obj(value, "events page")
        return cls(
            events=tuple(Event.from_json(e) for e in _list(obj, "events", "events page")),
            next=_int(obj, "next", "events page"),
            log=_str(obj, "log", "events page"),
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
        obj = _obj(value, "history page")
        before = obj.get("next_before")
        return cls(
            messages=tuple(Message.from_json(m) for m in _list(obj, "messages", "history page")),
            next_before=None if before is None else _int(obj, "next_before", "history page"),
            raw=obj,
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
