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
from client.jsonread import (
    boolean,
    integer,
    member,
    nullable_number,
    number,
    obj,
    string,
    string_or_none,
)

__all__ = [
    "Comment",
    "FileInfo",
    "JoinLink",
    "JoinRequest",
    "ReportOutcome",
    "Scheduled",
    "member",
]


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
        fields = obj(value, "comment")
        return cls(
            id=integer(fields, "id", "comment"),
            message=integer(fields, "message", "comment"),
            room=string(fields, "room", "comment"),
            author=string(fields, "author", "comment"),
            text=string(fields, "text", "comment"),
            ts=number(fields, "ts", "comment"),
            raw=fields,
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
        fields = obj(value, "scheduled")
        to = string_or_none(fields, "to")
        room = string_or_none(fields, "room")
        if to is None and room is None:
            raise BadResponseError("scheduled has neither room nor to")
        return cls(
            id=integer(fields, "id", "scheduled"),
            author=string(fields, "author", "scheduled"),
            text=string(fields, "text", "scheduled"),
            send_at=number(fields, "send_at", "scheduled"),
            status=string(fields, "status", "scheduled"),
            room=room,
            to=to,
            raw=fields,
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
        fields = obj(value, "request")
        return cls(
            room=string(fields, "room", "request"),
            user=string(fields, "user", "request"),
            status=string(fields, "status", "request"),
            requested_at=nullable_number(fields, "requested_at", "request"),
            raw=fields,
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
        fields = obj(value, "link")
        return cls(
            room=string(fields, "room", "link"),
            token=string(fields, "token", "link"),
            path=string(fields, "path", "link"),
            raw=fields,
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
        fields = obj(value, "report")
        return cls(
            user=string(fields, "user", "report"),
            banned=boolean(fields, "banned", "report"),
            raw=fields,
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
        fields = obj(value, "file")
        return cls(
            name=string(fields, "name", "file"),
            size=integer(fields, "size", "file"),
            content_type=string(fields, "content_type", "file"),
            sha256=string(fields, "sha256", "file"),
        )
