"""JSON mapping at the boundary: service views to JSON, domain errors to statuses.

`ERROR_STATUS` is the one table from domain error classes to HTTP statuses
(the error code itself is the class's `code`).
"""

from __future__ import annotations

import json
import math
from typing import Any

from app import (
    CommentView,
    ConnectResult,
    EventsPage,
    EventView,
    FileView,
    HistoryPage,
    JoinRequestView,
    MessageView,
    RoomView,
    ScheduledView,
    SessionView,
    StatusResult,
)
from domain import (
    BadCredentialsError,
    BannedError,
    ConflictError,
    DomainError,
    ForbiddenError,
    InsufficientStorageError,
    LogMismatchError,
    NotFoundError,
    NotMemberError,
    NotOwnerError,
    OffsetOutOfRangeError,
    RateLimitedError,
    TooLargeError,
    UnauthorizedError,
    UnavailableError,
    ValidationError,
)
from transport.server import Response, error_response

ERROR_STATUS: dict[type[DomainError], int] = {
    ValidationError: 400,
    BadCredentialsError: 401,
    UnauthorizedError: 401,
    ForbiddenError: 403,
    NotMemberError: 403,
    NotOwnerError: 403,
    BannedError: 403,
    RateLimitedError: 429,
    NotFoundError: 404,
    ConflictError: 409,
    TooLargeError: 413,
    OffsetOutOfRangeError: 409,
    LogMismatchError: 409,
    InsufficientStorageError: 507,
    UnavailableError: 503,
}

_BEARER_CHALLENGE = (("WWW-Authenticate", 'Bearer realm="chat"'),)


def error_for(exc: DomainError) -> Response:
    """The HTTP error response for a domain error."""
    status = next(
        (s for cls, s in ERROR_STATUS.items() if isinstance(exc, cls)),
        400,
    )
    headers: tuple[tuple[str, str], ...] = ()
    if isinstance(exc, UnauthorizedError):
        headers = _BEARER_CHALLENGE
    elif isinstance(exc, RateLimitedError | InsufficientStorageError | UnavailableError):
        headers = (("Retry-After", str(max(1, math.ceil(exc.retry_after_s)))),)
    return error_response(status, exc.code, str(exc), headers=headers, **exc.extra())


def message_json(message: MessageView) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": message.id,
        "room": message.room,
        "author": message.author,
        "text": message.text,
        "ts": message.ts,
        "comments": message.comments,
    }
    if message.scheduled is not None:
        body["scheduled"] = message.scheduled
    if message.file is not None:
        body["file"] = file_json(message.file)
    return body


def file_json(file: FileView) -> dict[str, Any]:
    return {
        "name": file.name,
        "size": file.size,
        "content_type": file.content_type,
        "sha256": file.sha256,
    }


def comment_json(comment: CommentView) -> dict[str, Any]:
    return {
        "id": comment.id,
        "message": comment.message,
        "room": comment.room,
        "author": comment.author,
        "text": comment.text,
        "ts": comment.ts,
    }


def scheduled_json(scheduled: ScheduledView) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": scheduled.id,
        "author": scheduled.author,
        "text": scheduled.text,
        "send_at": scheduled.send_at,
        "status": scheduled.status,
    }
    if scheduled.to is not None:
        body["to"] = scheduled.to
    else:
        body["room"] = scheduled.room or "general"
    return body


def request_json(request: JoinRequestView) -> dict[str, Any]:
    body: dict[str, Any] = {"room": request.room, "user": request.user, "status": request.status}
    if request.requested_at is not None:
        body["requested_at"] = request.requested_at
    return body


def room_json(room: RoomView) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": room.id,
        "name": room.name,
        "kind": room.kind,
        "owner": room.owner,
        "members": list(room.members),
    }
    if room.unread is not None:
        body["unread"] = room.unread
    return body


def session_json(session: SessionView) -> dict[str, Any]:
    return {
        "id": session.id,
        "opened_at": session.opened_at,
        "last_active": session.last_active,
        "current": session.current,
    }


_FIELD_JSON: dict[type[Any], Any] = {
    MessageView: message_json,
    RoomView: room_json,
    CommentView: comment_json,
    ScheduledView: scheduled_json,
    JoinRequestView: request_json,
}


def _field_json(value: object) -> object:
    to_json = _FIELD_JSON.get(type(value))
    return value if to_json is None else to_json(value)


def event_json(event: EventView) -> dict[str, Any]:
    body: dict[str, Any] = {"offset": event.offset, "ts": event.ts, "type": event.type}
    for name, value in event.fields.items():
        body[name] = _field_json(value)
    return body


def connect_json(result: ConnectResult) -> dict[str, Any]:
    return {
        "token": result.token,
        "user": {"name": result.user},
        "log": result.log,
        "offset": result.offset,
        "cursor": result.cursor,
        "general": {"id": "general", "messages": [message_json(m) for m in result.general]},
        "unread": [message_json(m) for m in result.unread],
        "unread_truncated": result.unread_truncated,
        "rooms": [room_json(r) for r in result.rooms],
    }


def status_json(result: StatusResult) -> dict[str, Any]:
    return {
        "user": {"name": result.user},
        "log": result.log,
        "offset": result.offset,
        "cursor": result.cursor,
        "rooms": [room_json(r) for r in result.rooms],
        "online": list(result.online),
        "sessions": [session_json(s) for s in result.sessions],
    }


def history_json(page: HistoryPage) -> dict[str, Any]:
    return {
        "messages": [message_json(m) for m in page.messages],
        "next_before": page.next_before,
    }


def events_json(page: EventsPage) -> dict[str, Any]:
    return {"events": [event_json(e) for e in page.events], "next": page.next, "log": page.log}


def dumps(obj: object) -> bytes:
    """Compact UTF-8 JSON, as every response body."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
