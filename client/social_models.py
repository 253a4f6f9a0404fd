"""The JSON shapes of comments, scheduled messages, join links and requests, reports, files.

Like `client.models`: every `from_json` raises `BadResponseError` when the
server sends something without the documented shape, and keeps the object
as it came in `raw` for `--json`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attrs import field, frozen

from client.http import BadResponseError

__all__ = [
    "Comment",
    "FileInfo",
    "JoinLink",
    "JoinRequest",
    "ReportOutcome",
    "Scheduled",
    "member",
]


def _obj(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise BadResponseError(f"{what} is not a JSON object")
    return value


def _typed(obj: Mapping[str, Any], key: str, kind: type | tuple[type, ...], what: str) -> Any:
    value = obj.get(key)
    if isinstance(value, bool) != (kind is bool) or not isinstance(value, kind):
        raise BadResponseError(f"{what}.{key} is missing or of the wrong type")
    return value


def _str(obj: Mapping[str, Any], key: str, what: str) -> str:
    value: str = _typed(obj, key, str, what)
    return value


def _int(obj: Mapping[str, Any], key: str, what: str) -> int:
    value: int = _typed(obj, key, int, what)
    return value


def _num(obj: Mapping[str, Any], key: str, what: str) -> float:
    return float(_typed(obj, key, (int, float), what))


def _opt_str(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return value if isinstance(value, str) else None


def member(obj: object, key: str, what: str) -> Mapping[str, Any]:
    """`obj[key]`, which must be a JSON object (e.g. `{"comment": {...}}`).

    Raises BadResponseError otherwise.
    """
    return _obj(_obj(obj, what).get(key), f"{what}.{key}")


@frozen(kw_only=True)
class Comment:
    """A comment on a message; `id` is the offset of its event."""

    id: int
    message: int
    room: str
    author: str
    text: str
    ts: float
    raw: Mapping[str, Any] = field(factory=dict, eq=False, repr=False)

    @classmethod
    def from_json(cls, value: object) -> Comment:
        """Raises BadResponseError when `value` is not a comment object."""
        obj = _obj(value, "comment")
        return cls(
            id=_int(obj, "id", "comment"),
            message=_int(obj, "message", "comment"),
            room=_str(obj, "room", "comment"),
            author=_str(obj, "author", "comment"),
            text=_str(obj, "text", "comment"),
            ts=_num(obj, "ts", "comment"),
            raw=obj,
        )


@frozen(kw_only=True)
class Scheduled:
    """A message scheduled for later: to `room`, or directly to user `to`."""

    id: int
    author: str
    text: str
    send_at: float
    status: str
    room: str | None = None
    to: str | None = None
    raw: Mapping[str, Any] = field(factory=dict, eq=False, repr=False)

    @classmethod
    def from_json(cls, value: object) -> Scheduled:
        """Raises BadResponseError when `value` is not a scheduled message object."""
        obj = _obj(value, "scheduled")
        to = _opt_str(obj, "to")
        room = _opt_str(obj, "room")
        if to is None and room is None:
            raise BadResponseError("scheduled has neither room nor to")
        return cls(
            id=_int(obj, "id", "scheduled"),
            author=_str(obj, "author", "scheduled"),
            text=_str(obj, "text", "scheduled"),
            send_at=_num(obj, "send_at", "scheduled"),
            status=_str(obj, "status", "scheduled"),
            room=room,
            to=to,
            raw=obj,
        )


@frozen(kw_only=True)
class JoinRequest:
    """A request to join a group room, and where it stands."""

    room: str
    user: str
    status: str  # pending, approved, rejected, member
    requested_at: float | None = None
    raw: Mapping[str, Any] = field(factory=dict, eq=False, repr=False)

    @classmethod
    def from_json(cls, value: object) -> JoinRequest:
        """Raises BadResponseError when `value` is not a join request object."""
        obj = _obj(value, "request")
        at = obj.get("requested_at")
        return cls(
            room=_str(obj, "room", "request"),
            user=_str(obj, "user", "request"),
            status=_str(obj, "status", "request"),
            requested_at=None if at is None else _num(obj, "requested_at", "request"),
            raw=obj,
        )


@frozen(kw_only=True)
class JoinLink:
    """`POST /rooms/{room}/links`: the secret token and the path that uses it."""

    room: str
    token: str
    path: str
    raw: Mapping[str, Any] = field(factory=dict, eq=False, repr=False)

    @classmethod
    def from_json(cls, value: object) -> JoinLink:
        """Raises BadResponseError when `value` is not a join link answer."""
        obj = _obj(value, "link")
        return cls(
            room=_str(obj, "room", "link"),
            token=_str(obj, "token", "link"),
            path=_str(obj, "path", "link"),
            raw=obj,
        )


@frozen(kw_only=True)
class ReportOutcome:
    """`POST /users/{name}/report`: whether the user is banned now."""

    user: str
    banned: bool
    raw: Mapping[str, Any] = field(factory=dict, eq=False, repr=False)

    @classmethod
    def from_json(cls, value: object) -> ReportOutcome:
        """Raises BadResponseError when `value` is not a report answer."""
        obj = _obj(value, "report")
        return cls(
            user=_str(obj, "user", "report"),
            banned=_typed(obj, "banned", bool, "report"),
            raw=obj,
        )


@frozen(kw_only=True)
class FileInfo:
    """The file a message carries."""

    name: str
    size: int
    content_type: str
    sha256: str

    @classmethod
    def from_json(cls, value: object) -> FileInfo:
        """Raises BadResponseError when `value` is not a file object."""
        obj = _obj(value, "file")
        return cls(
            name=_str(obj, "name", "file"),
            size=_int(obj, "size", "file"),
            content_type=_str(obj, "content_type", "file"),
            sha256=_str(obj, "sha256", "file"),
        )
