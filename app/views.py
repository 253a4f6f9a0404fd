"""What the service answers: plain, frozen values the transport maps to JSON."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attrs import frozen


@frozen(kw_only=True)
class Session:
    """An authenticated client session."""

    id: int  # offset of its `session.opened`
    user: str
    user_key: str


@frozen(kw_only=True)
class FileView:
    name: str
    size: int
    content_type: str
    sha256: str


@frozen(kw_only=True)
class MessageView:
    id: int
    room: str
    author: str
    text: str
    ts: float
    comments: int = 0
    scheduled: int | None = None  # the scheduled message this delivered
    file: FileView | None = None
    edited: float | None = None  # when it was last edited


@frozen(kw_only=True)
class CommentView:
    id: int
    message: int
    room: str
    author: str
    text: str
    ts: float


@frozen(kw_only=True)
class CommentsPage:
    comments: tuple[CommentView, ...]
    next: int | None  # the `after` of the next page; None: this was the last


@frozen(kw_only=True)
class ScheduledView:
    id: int
    author: str
    text: str
    send_at: float
    status: str
    room: str | None = None
    to: str | None = None


@frozen(kw_only=True)
class JoinRequestView:
    room: str
    user: str
    status: str  # pending | approved | rejected | member
    requested_at: float | None = None


@frozen(kw_only=True)
class LinkView:
    room: str
    token: str


@frozen(kw_only=True)
class RoomView:
    id: str
    name: str
    kind: str
    owner: str | None
    members: tuple[str, ...]
    unread: int | None = None  # None where unread counts do not apply (room events)
    history: str | None = None  # group rooms: what a new member sees of the past


@frozen(kw_only=True)
class SessionView:
    id: int
    opened_at: float
    current: bool
    last_active: float | None = None


@frozen(kw_only=True)
class ConnectResult:
    created: bool  # a new user was registered
    token: str
    user: str
    log: str
    offset: int
    cursor: int
    general: tuple[MessageView, ...]
    unread: tuple[MessageView, ...]
    unread_truncated: bool
    rooms: tuple[RoomView, ...]


@frozen(kw_only=True)
class LastSeen:
    name: str
    ts: float  # when the user last made a request, as far as this server knows


@frozen(kw_only=True)
class GeneralQuota:
    """The caller's rate window of `general`: how many more messages it takes, until when."""

    limit: int
    remaining: int
    resets_at: float | None  # when the window ends; None: no window is open


@frozen(kw_only=True)
class Limits:
    """Limits a client checks before it sends."""

    max_text_length: int
    max_file_bytes: int


@frozen(kw_only=True)
class StatusResult:
    user: str
    log: str
    offset: int
    cursor: int
    rooms: tuple[RoomView, ...]
    online: tuple[str, ...]
    sessions: tuple[SessionView, ...]
    last_seen: tuple[LastSeen, ...] = ()
    banned_until: float | None = None
    general: GeneralQuota | None = None
    limits: Limits | None = None


@frozen(kw_only=True)
class HistoryPage:
    messages: tuple[MessageView, ...]
    next_before: int | None


@frozen(kw_only=True)
class EventView:
    """One event as a client sees it: offset, time, type and its fields.

    `fields` values are JSON values or the views above.
    """

    offset: int
    ts: float
    type: str
    fields: Mapping[str, Any]


@frozen(kw_only=True)
class EventsPage:
    events: tuple[EventView, ...]
    next: int
    log: str


@frozen(kw_only=True)
class Health:
    offset: int
    log: str
