"""JSON mapping at the boundary: service views to JSON, domain errors to statuses.

`ERROR_STATUS` is the one table from domain error classes to HTTP statuses
(the error code itself is the class's `code`).
"""

from __future__ import annotations

import json
from typing import Any

from app import (
    ConnectResult,
    EventsPage,
    EventView,
    HistoryPage,
    MessageView,
    RoomView,
    SessionView,
    StatusResult,
)
from domain import (
    BadCredentialsError,
    ConflictError,
    DomainError,
    LogMismatchError,
    NotFoundError,
    NotMemberError,
    OffsetOutOfRangeError,
    UnauthorizedError,
    ValidationError,
)
from transport.http import Response, error_response

ERROR_STATUS: dict[type[DomainError], int] = {
    ValidationError: 400,
    BadCredentialsError: 401,
    UnauthorizedError: 401,
    NotMemberError: 403,
    NotFoundError: 404,
    ConflictError: 409,
    OffsetOutOfRangeError: 409,
    LogMismatchError: 409,
}

_BEARER_CHALLENGE = (("WWW-Authenticate", 'Bearer realm="chat"'),)


def error_for(exc: DomainError) -> Response:
    """The HTTP error response for a domain error."""
    status = next(
        (s for cls, s in ERROR_STATUS.items() if isinstance(exc, cls)),
        400,
    )
    headers = _BEARER_CHALLENGE if isinstance(exc, UnauthorizedError) else ()
    return error_response(status, exc.code, str(exc), headers=headers, **exc.extra())


def message_json(message: MessageView) -> dict[str, Any]:
    return {
        "id": message.id,
        "room": message.room,
        "author": message.author,
        "text": message.text,
        "ts": message.ts,
        "comments": message.comments,
    }


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
    return {"id": session.id, "opened_at": session.opened_at, "current": session.current}


def _field_json(value: object) -> object:
    if isinstance(value, MessageView):
        return message_json(value)
    if isinstance(value, RoomView):
        return room_json(value)
    return value


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
