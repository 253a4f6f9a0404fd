"""Identity and sessions: connect, disconnect, status (`app.identity`).

Each handler is declared with its OpenAPI operation right above it; the
shapes (`connect_json`, `status_json`) and their component schemas are at
the top. The form of a user's `Name` is in `transport.api.forms`.
"""

from __future__ import annotations

from typing import Any, Final

from app import ConnectResult, SessionView, Settings, StatusResult
from transport.api.endpoint import Api, endpoint
from transport.api.forms import natural_schema
from transport.api.messages import MESSAGE_EXAMPLE, message_json
from transport.api.openapi import (
    VALIDATION,
    Failure,
    Operation,
    Reply,
    Schema,
    array_of,
    error_example,
    object_schema,
    path_parameter,
    ref,
)
from transport.api.params import path_id
from transport.api.polling import LOG_EXAMPLE
from transport.api.rooms import DIRECT_EXAMPLE, GENERAL_EXAMPLE, room_json
from transport.server import Request, Response, empty, json_response, read_json

__all__ = ["connect_json", "status_json", "session_json", "schemas", "sessions", "revoke"]

TAG: Final = "Identity and sessions"
_TOKEN_EXAMPLE: Final = "9f2c4e0b" * 8
_SESSION_EXAMPLE: Final = {
    "id": 12,
    "opened_at": 1763900000.5,
    "last_active": 1763903600.0,
    "current": True,
}


def session_json(session: SessionView) -> dict[str, Any]:
    return {
        "id": session.id,
        "opened_at": session.opened_at,
        "last_active": session.last_active,
        "current": session.current,
    }


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
    body: dict[str, Any] = {
        "user": {"name": result.user},
        "log": result.log,
        "offset": result.offset,
        "cursor": result.cursor,
        "rooms": [room_json(r) for r in result.rooms],
        "online": list(result.online),
        "sessions": [session_json(s) for s in result.sessions],
        "last_seen": [{"name": s.name, "ts": s.ts} for s in result.last_seen],
        "banned_until": result.banned_until,
    }
    if result.general is not None:
        quota = result.general
        body["general"] = {
            "limit": quota.limit,
            "remaining": quota.remaining,
            "resets_at": quota.resets_at,
        }
    if result.limits is not None:
        body["limits"] = {
            "max_text_length": result.limits.max_text_length,
            "max_file_bytes": result.limits.max_file_bytes,
        }
    return body


def schemas(settings: Settings) -> dict[str, Schema]:
    """The component schemas of users and sessions, limits from `settings`."""
    offset = {"type": "integer", "minimum": 0}
    return {
        "User": object_schema(["name"], {"name": ref("Name")}, examples=[{"name": "alice"}]),
        "SessionList": object_schema(
            ["sessions"],
            {"sessions": array_of(ref("Session"), description="Oldest first.")},
        ),
        "Session": object_schema(
            ["id", "opened_at", "current"],
            {
                "id": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "The offset of its `session.opened` event.",
                },
                "opened_at": {"type": "number", "description": "Unix s."},
                "last_active": {
                    "type": ["number", "null"],
                    "description": "When it was last used (Unix s), as far as the server knows.",
                },
                "current": {
                    "type": "boolean",
                    "description": "True for the session of this request's token.",
                },
            },
            examples=[_SESSION_EXAMPLE],
        ),
        "ConnectRequest": object_schema(
            ["name", "password"],
            {
                "name": ref("Name"),
                "password": {
                    "type": "string",
                    "minLength": settings.min_password_length,
                    "maxLength": 1024,
                    "description": f"At least {settings.min_password_length} characters "
                    "for a new account (an account made under a lower minimum may log in "
                    "with its shorter one).",
                },
            },
            examples=[{"name": "alice", "password": "correct horse"}],
        ),
        "Connected": object_schema(
            [
                "token",
                "user",
                "log",
                "offset",
                "cursor",
                "general",
                "unread",
                "unread_truncated",
                "rooms",
            ],
            {
                "token": {
                    "type": "string",
                    "pattern": "^[0-9a-f]{64}$",
                    "description": "Bearer token of the new session; shown only here.",
                },
                "user": ref("User"),
                "log": {"type": "string", "description": "The log id."},
                "offset": {**offset, "description": "The head of the log."},
                "cursor": {**offset, "description": "The user's acknowledged offset."},
                "general": object_schema(
                    ["id", "messages"],
                    {
                        "id": {"const": "general"},
                        "messages": array_of(
                            ref("Message"),
                            maxItems=settings.history_size,
                            description=f"The last {settings.history_size} unexpired "
                            "messages of general, oldest first.",
                        ),
                    },
                ),
                "unread": array_of(
                    ref("Message"),
                    maxItems=settings.max_unread_on_connect,
                    description="Unexpired messages the user may see with an offset above "
                    "`cursor`, any room, oldest first.",
                ),
                "unread_truncated": {
                    "type": "boolean",
                    "description": "True when there were more than "
                    f"{settings.max_unread_on_connect} unread messages (the oldest are listed).",
                },
                "rooms": array_of(ref("Room")),
            },
        ),
        "Status": object_schema(
            ["user", "log", "offset", "cursor", "rooms", "online", "sessions"],
            {
                "user": ref("User"),
                "log": {"type": "string"},
                "offset": offset,
                "cursor": offset,
                "rooms": array_of(ref("Room")),
                "online": array_of(
                    ref("Name"),
                    description="Users with a poll waiting or a request in the last "
                    f"{settings.online_window_s:g} s (`--online-window`), sorted.",
                ),
                "sessions": array_of(ref("Session"), description="The caller's open sessions."),
                "last_seen": array_of(
                    object_schema(
                        ["name", "ts"],
                        {"name": ref("Name"), "ts": {"type": "number", "description": "Unix s."}},
                    ),
                    maxItems=settings.last_seen_listed,
                    description="When users last made a request, as far as this server "
                    "knows (kept in memory), the most recent first.",
                ),
                "banned_until": {
                    "type": ["number", "null"],
                    "description": "When the caller's ban from sending ends; null: not banned.",
                },
                "general": object_schema(
                    ["limit", "remaining", "resets_at"],
                    {
                        "limit": {"type": "integer", "minimum": 0},
                        "remaining": {"type": "integer", "minimum": 0},
                        "resets_at": {
                            "type": ["number", "null"],
                            "description": "When the caller's window of general ends; null: "
                            "none is open.",
                        },
                    },
                    description="What the caller may still send to general in this window.",
                ),
                "limits": object_schema(
                    ["max_text_length", "max_file_bytes"],
                    {
                        "max_text_length": {"type": "integer", "minimum": 1},
                        "max_file_bytes": {"type": "integer", "minimum": 0},
                    },
                ),
            },
        ),
    }


# ------------------------------------------------------------------- endpoints


def _connect_operation(settings: Settings) -> Operation:
    return Operation(
        operation_id="connect",
        tag=TAG,
        summary="Register or log in; open a session",
        description="The first connect with a name registers the user (201) and joins "
        "`general`; later ones check the password (200). Every call opens a new session "
        "with its own token.",
        auth=False,
        body=ref("ConnectRequest"),
        body_example={"name": "alice", "password": "correct horse"},
        replies=(
            Reply(
                status=201,
                description="A new user was registered.",
                schema=ref("Connected"),
                example={
                    "token": _TOKEN_EXAMPLE,
                    "user": {"name": "alice"},
                    "log": LOG_EXAMPLE,
                    "offset": 17,
                    "cursor": 0,
                    "general": {"id": "general", "messages": [MESSAGE_EXAMPLE]},
                    "unread": [MESSAGE_EXAMPLE],
                    "unread_truncated": False,
                    "rooms": [GENERAL_EXAMPLE],
                },
            ),
            Reply(status=200, description="A known user logged in.", schema=ref("Connected")),
        ),
        failures=(
            Failure(
                status=400,
                codes={VALIDATION: "`field` is `name` or `password`"},
                example=error_example(
                    VALIDATION, "a user name has 1 to 32 characters", field="name"
                ),
            ),
            Failure(
                status=401,
                codes={"bad_credentials": "the name is taken and the password is wrong"},
            ),
        ),
    )


@endpoint(_connect_operation)
async def connect(api: Api, request: Request) -> Response:
    body = await read_json(request)
    result = await api.service.identity.connect(
        body.get("name"), body.get("password"), address=request.peer.rsplit(":", 1)[0]
    )
    return json_response(201 if result.created else 200, connect_json(result))


def _disconnect_operation(settings: Settings) -> Operation:
    return Operation(
        operation_id="disconnect",
        tag=TAG,
        summary="Close this session",
        description="Revokes this request's token only; the user's other sessions stay open.",
        replies=(Reply(status=204, description="The token is revoked."),),
    )


@endpoint(_disconnect_operation)
async def disconnect(api: Api, request: Request) -> Response:
    await api.service.identity.disconnect(api.session(request))
    return empty()


def _status_operation(settings: Settings) -> Operation:
    return Operation(
        operation_id="status",
        tag=TAG,
        summary="Who I am, my rooms, who is online",
        description="The caller's rooms with unread counts, the users with an open "
        "session, and the caller's own open sessions.",
        replies=(
            Reply(
                status=200,
                description="The caller's status.",
                schema=ref("Status"),
                example={
                    "user": {"name": "alice"},
                    "log": LOG_EXAMPLE,
                    "offset": 17,
                    "cursor": 15,
                    "rooms": [GENERAL_EXAMPLE, DIRECT_EXAMPLE],
                    "online": ["alice", "bob"],
                    "sessions": [_SESSION_EXAMPLE],
                    "last_seen": [{"name": "bob", "ts": 1763903600.0}],
                    "banned_until": None,
                    "general": {"limit": 20, "remaining": 17, "resets_at": 1763903000.0},
                    "limits": {"max_text_length": 4000, "max_file_bytes": 5242880},
                },
            ),
        ),
    )


@endpoint(_status_operation)
async def status(api: Api, request: Request) -> Response:
    result = api.service.identity.status(api.session(request))
    return json_response(200, status_json(result))


# -- the caller's own sessions ------------------------------------------------------


def _sessions_operation(settings: Settings) -> Operation:
    return Operation(
        operation_id="sessions",
        tag=TAG,
        summary="My open sessions",
        description="Every session the caller has open (one per connect), oldest first, "
        "with when each was last used. At the cap of open sessions a new connect ends the "
        "one used least recently; a session unused for "
        f"{settings.session_idle_s / 86400:g} days ends by itself.",
        replies=(
            Reply(
                status=200,
                description="The caller's sessions.",
                schema=ref("SessionList"),
                example={"sessions": [_SESSION_EXAMPLE]},
            ),
        ),
    )


@endpoint(_sessions_operation)
async def sessions(api: Api, request: Request) -> Response:
    listed = api.service.identity.sessions(api.session(request))
    return json_response(200, {"sessions": [session_json(s) for s in listed]})


def _revoke_operation(settings: Settings) -> Operation:
    return Operation(
        operation_id="revokeSession",
        tag=TAG,
        summary="End one of my sessions",
        description="Revokes that session's token, wherever it is used (this one too).",
        parameters=(
            path_parameter("id", natural_schema(1), "The session's id (from `GET /sessions`).", 12),
        ),
        replies=(Reply(status=204, description="The session is ended."),),
        failures=(Failure(status=404, codes={"not_found": "the caller has no such session"}),),
    )


@endpoint(_revoke_operation)
async def revoke(api: Api, request: Request) -> Response:
    await api.service.identity.revoke(api.session(request), path_id(request, "session"))
    return empty()
