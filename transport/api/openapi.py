"""The OpenAPI 3.1 description of the chat API, built from a table of operations.

`OPERATIONS` lists every endpoint the server routes: its parameters, body,
success replies and the errors it can answer with. `openapi_document()`
turns the table into the document served at `GET /openapi.json`; shared
shapes live in `components/schemas` (see `_schemas`). To document a new
endpoint, add its schemas to `_schemas` and one `Operation` to `_operations`
(a function of the settings, so that documented limits are the configured ones).

Errors every operation shares are added by the builder rather than repeated
in the table: `401 unauthorized` on authenticated operations; `400 bad_json`,
`413 too_large` and `415 unsupported_media_type` on operations with a JSON
body; `400 bad_request` on operations with path parameters; and a `default`
error response for what the HTTP layer itself may answer with (`408`, `431`,
`500 internal`, `503 unavailable`, ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from attrs import field, frozen

from app import Settings

__all__ = [
    "OPERATIONS",
    "Failure",
    "Operation",
    "Parameter",
    "Reply",
    "openapi_document",
]

JSON_MEDIA_TYPE: Final = "application/json"
SECURITY_SCHEME: Final = "bearerAuth"
API_VERSION: Final = "1.0.0"

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    """A reference to `components/schemas/<name>`."""
    return {"$ref": f"#/components/schemas/{name}"}


def array_of(item: Schema, **constraints: Any) -> Schema:
    """An array schema of `item`."""
    return {"type": "array", "items": item, **constraints}


@frozen(kw_only=True)
class Parameter:
    """A path, query or header parameter."""

    name: str
    location: str  # "path", "query" or "header"
    schema: Schema
    description: str
    required: bool = False
    example: Any = None


@frozen(kw_only=True)
class Reply:
    """A success response: its status, body schema (None: no body) and an example."""

    status: int
    description: str
    schema: Schema | None = None
    example: Any = None
    media_type: str = JSON_MEDIA_TYPE
    headers: Mapping[str, Schema] = field(factory=dict)  # always sent with this reply


@frozen(kw_only=True)
class Failure:
    """An error response: its status and the error codes the body may carry, with why."""

    status: int
    codes: Mapping[str, str]  # code -> when it is answered
    example: Any = None
    headers: Mapping[str, Schema] = field(factory=dict)


@frozen(kw_only=True)
class Operation:
    """One method on one path."""

    method: str
    path: str
    operation_id: str
    tag: str
    summary: str
    description: str
    auth: bool = True
    parameters: tuple[Parameter, ...] = ()
    body: Schema | None = None
    body_example: Any = None
    body_media_type: str = JSON_MEDIA_TYPE  # another type: a raw body, no JSON body errors
    body_also_as: tuple[str, ...] = ()  # more media types the same body may have ("*/*")
    body_required: bool = True
    replies: tuple[Reply, ...] = ()
    failures: tuple[Failure, ...] = ()


# ---------------------------------------------------------------- examples

_TOKEN_EXAMPLE: Final = "9f2c4e0b" * 8
_LOG_EXAMPLE: Final = "0e916ce411c3969a76159695286b6425"
_MESSAGE_EXAMPLE: Final = {
    "id": 17,
    "room": "general",
    "author": "alice",
    "text": "hi",
    "ts": 1763900000.123,
    "comments": 0,
}
_GENERAL_EXAMPLE: Final = {
    "id": "general",
    "name": "general",
    "kind": "general",
    "owner": None,
    "members": ["alice", "bob"],
    "unread": 1,
}
_DIRECT_EXAMPLE: Final = {
    "id": "dm:alice:bob",
    "name": "bob",
    "kind": "direct",
    "owner": None,
    "members": ["alice", "bob"],
    "unread": 0,
}


def _error_example(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


# ------------------------------------------------------------------ schemas


def _event(event_type: str, description: str, fields: Mapping[str, Schema]) -> Schema:
    return {
        "type": "object",
        "description": description,
        "required": ["offset", "ts", "type", *fields],
        "properties": {
            "offset": {"type": "integer", "minimum": 1, "description": "Offset in the log."},
            "ts": {"type": "number", "description": "When the server appended it (Unix s)."},
            "type": {"const": event_type},
            **fields,
        },
    }


# Event types a client may see, by wire name -> component schema name.
EVENT_SCHEMAS: Final[Mapping[str, str]] = {
    "message.sent": "MessageSentEvent",
    "room.created": "RoomCreatedEvent",
    "room.member_joined": "MemberJoinedEvent",
    "room.member_left": "MemberLeftEvent",
    "cursor.moved": "CursorMovedEvent",
    # The later event types; their schemas are in `openapi_more`.
    "message.commented": "MessageCommentedEvent",
    "room.join_requested": "JoinRequestedEvent",
    "room.join_decided": "JoinDecidedEvent",
    "message.scheduled": "MessageScheduledEvent",
    "message.cancelled": "MessageCancelledEvent",
    "message.schedule_failed": "ScheduleFailedEvent",
    "user.banned": "UserBannedEvent",
}


def _schemas(settings: Settings) -> dict[str, Schema]:
    # Imported here: openapi_more builds on this module's table types.
    from transport.api.openapi_more import more_schemas  # noqa: PLC0415

    name = {
        "type": "string",
        "minLength": 1,
        "maxLength": 32,
        "description": "1-32 letters (any script), digits, `_`, `-`, `.`; "
        "unique case-insensitively.",
        "examples": ["alice"],
    }
    offset = {"type": "integer", "minimum": 0}
    room_id = {
        "type": "string",
        "minLength": 1,
        "description": "`general`, a direct room `dm:<a>:<b>` (the two names casefolded "
        "and sorted) or a group room `g<offset>`.",
        "examples": ["general", "dm:alice:bob"],
    }
    room_fields: dict[str, Schema] = {
        "id": room_id,
        "name": {
            "type": "string",
            "description": "For a direct room, the other participant's name.",
        },
        "kind": {"enum": ["general", "group", "direct"]},
        "owner": {"type": ["string", "null"], "description": "The owner of a group room."},
        "members": array_of(name, description="Sorted by name."),
    }
    return {
        "Name": name,
        "RoomId": room_id,
        "Error": {
            "type": "object",
            "description": "Every error answer. `code` is machine-readable; `message` is for "
            "humans; some codes add fields.",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": {"type": "string", "pattern": "^[a-z][a-z_]*$"},
                        "message": {"type": "string"},
                        "field": {
                            "type": "string",
                            "description": "With `validation_failed`: the offending field.",
                        },
                        "head": {
                            "type": "integer",
                            "description": "With `offset_out_of_range`: the current head.",
                        },
                        "log": {
                            "type": "string",
                            "description": "With `log_mismatch`: this server's log id.",
                        },
                        "until": {
                            "type": "number",
                            "description": "With `banned`: when the ban ends (Unix s).",
                        },
                        "retry_after": {
                            "type": "number",
                            "description": "With `rate_limited`: seconds until the window ends.",
                        },
                    },
                },
            },
            "examples": [
                _error_example("validation_failed", "text must not be empty", field="text")
            ],
        },
        "User": {
            "type": "object",
            "required": ["name"],
            "properties": {"name": ref("Name")},
            "examples": [{"name": "alice"}],
        },
        "Message": {
            "type": "object",
            "required": ["id", "room", "author", "text", "ts", "comments"],
            "properties": {
                "id": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "The offset of its `message.sent` event.",
                },
                "room": ref("RoomId"),
                "author": ref("Name"),
                "text": {"type": "string"},
                "ts": {"type": "number", "description": "When it was sent (Unix s)."},
                "comments": {"type": "integer", "minimum": 0},
                "scheduled": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "The id of the scheduled message it delivered.",
                },
                "file": ref("FileInfo"),
            },
            "examples": [_MESSAGE_EXAMPLE],
        },
        "RoomInfo": {
            "type": "object",
            "description": "A room as announced by `room.created`.",
            "required": list(room_fields),
            "properties": room_fields,
        },
        "Room": {
            "description": "A room the caller is a member of, with its unread count.",
            "allOf": [
                ref("RoomInfo"),
                {
                    "type": "object",
                    "required": ["unread"],
                    "properties": {
                        "unread": {
                            "type": "integer",
                            "minimum": 0,
                            "description": "Unexpired messages after the caller's cursor.",
                        }
                    },
                },
            ],
            "examples": [_GENERAL_EXAMPLE],
        },
        "Session": {
            "type": "object",
            "required": ["id", "opened_at", "current"],
            "properties": {
                "id": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "The offset of its `session.opened` event.",
                },
                "opened_at": {"type": "number", "description": "Unix s."},
                "current": {
                    "type": "boolean",
                    "description": "True for the session of this request's token.",
                },
            },
            "examples": [{"id": 12, "opened_at": 1763900000.5, "current": True}],
        },
        "MessageSentEvent": _event(
            "message.sent",
            "A message was sent to a room the caller is in.",
            {"message": ref("Message")},
        ),
        "RoomCreatedEvent": _event(
            "room.created",
            "A room the caller is a member of was created.",
            {"room": ref("RoomInfo")},
        ),
        "MemberJoinedEvent": _event(
            "room.member_joined",
            "A user joined a room the caller is in.",
            {"room": ref("RoomId"), "user": ref("Name")},
        ),
        "MemberLeftEvent": _event(
            "room.member_left",
            "A user left a room the caller is in.",
            {"room": ref("RoomId"), "user": ref("Name")},
        ),
        "CursorMovedEvent": _event(
            "cursor.moved",
            "The caller's shared cursor moved (sent to that user's sessions only).",
            {
                "user": ref("Name"),
                "cursor": offset,
                "session": {
                    "type": ["integer", "null"],
                    "description": "The session whose acknowledgement moved it.",
                },
            },
        ),
        "Event": {
            "description": "An event of the log the caller may see.",
            "oneOf": [ref(schema) for schema in EVENT_SCHEMAS.values()],
            "discriminator": {
                "propertyName": "type",
                "mapping": {
                    event_type: f"#/components/schemas/{schema}"
                    for event_type, schema in EVENT_SCHEMAS.items()
                },
            },
        },
        "ConnectRequest": {
            "type": "object",
            "required": ["name", "password"],
            "properties": {
                "name": ref("Name"),
                "password": {"type": "string", "minLength": 1, "maxLength": 1024},
            },
            "examples": [{"name": "alice", "password": "correct horse"}],
        },
        "Connected": {
            "type": "object",
            "required": [
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
            "properties": {
                "token": {
                    "type": "string",
                    "pattern": "^[0-9a-f]{64}$",
                    "description": "Bearer token of the new session; shown only here.",
                },
                "user": ref("User"),
                "log": {"type": "string", "description": "The log id."},
                "offset": {**offset, "description": "The head of the log."},
                "cursor": {**offset, "description": "The user's acknowledged offset."},
                "general": {
                    "type": "object",
                    "required": ["id", "messages"],
                    "properties": {
                        "id": {"const": "general"},
                        "messages": array_of(
                            ref("Message"),
                            maxItems=settings.history_size,
                            description=f"The last {settings.history_size} unexpired "
                            "messages of general, oldest first.",
                        ),
                    },
                },
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
        },
        "Status": {
            "type": "object",
            "required": ["user", "log", "offset", "cursor", "rooms", "online", "sessions"],
            "properties": {
                "user": ref("User"),
                "log": {"type": "string"},
                "offset": offset,
                "cursor": offset,
                "rooms": array_of(ref("Room")),
                "online": array_of(ref("Name"), description="Users with an open session, sorted."),
                "sessions": array_of(ref("Session"), description="The caller's open sessions."),
            },
        },
        "SendRequest": {
            "type": "object",
            "description": "`room` (default `general`) or `to` (a user), not both.",
            "required": ["text"],
            "properties": {
                "text": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": settings.max_text_length,
                    "description": f"1-{settings.max_text_length} characters, not only "
                    "whitespace, no NUL.",
                },
                "room": ref("RoomId"),
                "to": ref("Name"),
                "send_at": {
                    "type": "number",
                    "description": "Send at this Unix time instead of now (at most "
                    f"{settings.max_schedule_ahead_s / 86400:g} days ahead); a time not in the "
                    "future sends at once.",
                },
            },
            "not": {"required": ["room", "to"]},
            "examples": [{"text": "hi"}, {"text": "hello", "to": "bob"}],
        },
        "Sent": {
            "type": "object",
            "required": ["message"],
            "properties": {"message": ref("Message")},
        },
        "MessagePage": {
            "type": "object",
            "required": ["messages", "next_before"],
            "properties": {
                "messages": array_of(ref("Message"), description="Newest first."),
                "next_before": {
                    "type": ["integer", "null"],
                    "description": "Pass as `before` for the next older page; "
                    "null when there are no older messages.",
                },
            },
        },
        "EventPage": {
            "type": "object",
            "required": ["events", "next", "log"],
            "properties": {
                "events": array_of(ref("Event")),
                "next": {**offset, "description": "Pass as `after` next time."},
                "log": {"type": "string"},
            },
        },
        "Health": {
            "type": "object",
            "required": ["status", "offset", "log"],
            "properties": {
                "status": {"const": "ok"},
                "offset": offset,
                "log": {"type": "string"},
            },
        },
        **more_schemas(settings),
    }


# ------------------------------------------------------------- operations

_VALIDATION = "validation_failed"
_IDEMPOTENCY_KEY = Parameter(
    name="Idempotency-Key",
    location="header",
    schema={"type": "string", "pattern": "^[!-~]{1,64}$"},
    description="1-64 printable ASCII characters, no spaces. A repeat by the same user "
    "returns the "
    "original 201 body and appends nothing, also after a restart.",
    example="c0ffee-1",
)


def _operations(settings: Settings) -> tuple[Operation, ...]:
    # Imported here: openapi_more builds on this module's table types.
    from transport.api.openapi_more import (  # noqa: PLC0415
        SEND_FAILURES,
        more_operations,
        scheduled_reply,
    )

    return (
        Operation(
            method="post",
            path="/connect",
            operation_id="connect",
            tag="Identity and sessions",
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
                        "log": _LOG_EXAMPLE,
                        "offset": 17,
                        "cursor": 0,
                        "general": {"id": "general", "messages": [_MESSAGE_EXAMPLE]},
                        "unread": [_MESSAGE_EXAMPLE],
                        "unread_truncated": False,
                        "rooms": [_GENERAL_EXAMPLE],
                    },
                ),
                Reply(status=200, description="A known user logged in.", schema=ref("Connected")),
            ),
            failures=(
                Failure(
                    status=400,
                    codes={_VALIDATION: "`field` is `name` or `password`"},
                    example=_error_example(
                        _VALIDATION, "a user name has 1 to 32 characters", field="name"
                    ),
                ),
                Failure(
                    status=401,
                    codes={"bad_credentials": "the name is taken and the password is wrong"},
                ),
            ),
        ),
        Operation(
            method="post",
            path="/disconnect",
            operation_id="disconnect",
            tag="Identity and sessions",
            summary="Close this session",
            description="Revokes this request's token only; the user's other sessions stay open.",
            replies=(Reply(status=204, description="The token is revoked."),),
        ),
        Operation(
            method="get",
            path="/status",
            operation_id="status",
            tag="Identity and sessions",
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
                        "log": _LOG_EXAMPLE,
                        "offset": 17,
                        "cursor": 15,
                        "rooms": [_GENERAL_EXAMPLE, _DIRECT_EXAMPLE],
                        "online": ["alice", "bob"],
                        "sessions": [{"id": 12, "opened_at": 1763900000.5, "current": True}],
                    },
                ),
            ),
        ),
        Operation(
            method="post",
            path="/send",
            operation_id="send",
            tag="Messages",
            summary="Send a message to a room or to a user",
            description="`room` defaults to `general`. `to` sends a direct message; the "
            "direct room is created with the first message.",
            parameters=(_IDEMPOTENCY_KEY,),
            body=ref("SendRequest"),
            body_example={"text": "hi", "room": "general"},
            replies=(
                Reply(
                    status=201,
                    description="The message is durable.",
                    schema=ref("Sent"),
                    example={"message": _MESSAGE_EXAMPLE},
                ),
                scheduled_reply(),
            ),
            failures=(
                Failure(
                    status=400,
                    codes={
                        _VALIDATION: "`field` is `text` (empty, whitespace only, longer "
                        f"than {settings.max_text_length}, or holding NUL), `room`, `to` "
                        "(both `room` and `to`, not a valid name, or yourself), or "
                        "`Idempotency-Key` (not 1-64 printable ASCII characters), or "
                        "`send_at` (not a number, or more than "
                        f"{settings.max_schedule_ahead_s / 86400:g} days ahead)"
                    },
                    example=_error_example(_VALIDATION, "text must not be empty", field="text"),
                ),
                Failure(status=403, codes={"not_member": "the caller is not in the room"}),
                Failure(status=404, codes={"not_found": "no such room, or no such user (`to`)"}),
                *SEND_FAILURES,
            ),
        ),
        Operation(
            method="get",
            path="/rooms/{room}/messages",
            operation_id="roomMessages",
            tag="Messages",
            summary="Page through a room's history, newest first",
            description="Unexpired messages only. Follow `next_before` for older pages.",
            parameters=(
                Parameter(
                    name="room",
                    location="path",
                    required=True,
                    schema=ref("RoomId"),
                    description="The room id (percent-encode `:` if your client needs to).",
                    example="general",
                ),
                Parameter(
                    name="before",
                    location="query",
                    schema={"type": "integer", "minimum": 1},
                    description="Only messages with an id below this one.",
                    example=17,
                ),
                Parameter(
                    name="limit",
                    location="query",
                    schema={
                        "type": "integer",
                        "minimum": 1,
                        "maximum": settings.history_limit_max,
                        "default": settings.history_limit_default,
                    },
                    description="Page size.",
                    example=50,
                ),
            ),
            replies=(
                Reply(
                    status=200,
                    description="One page.",
                    schema=ref("MessagePage"),
                    example={"messages": [_MESSAGE_EXAMPLE], "next_before": None},
                ),
            ),
            failures=(
                Failure(status=400, codes={_VALIDATION: "`field` is `before` or `limit`"}),
                Failure(status=403, codes={"not_member": "the caller is not in the room"}),
                Failure(
                    status=404,
                    codes={
                        "not_found": "no such room; also a direct room the caller is not in, "
                        "so that ids do not leak"
                    },
                ),
            ),
        ),
        *more_operations(settings),
        Operation(
            method="get",
            path="/events",
            operation_id="events",
            tag="Synchronisation",
            summary="Long-poll for events after an offset",
            description="Returns at once when the caller may see any event with an offset "
            "above `after`, else waits until one arrives or `timeout` passes (then `events` "
            "is empty). `next` is the offset to pass as `after` next time; it moves past "
            "events the caller may not see. Passing `after` acknowledges everything up to "
            "it for the user: all of a user's sessions share one cursor, which is what "
            "`unread` is measured from.",
            parameters=(
                Parameter(
                    name="after",
                    location="query",
                    required=True,
                    schema={"type": "integer", "minimum": 0},
                    description="The last offset the client has.",
                    example=17,
                ),
                Parameter(
                    name="timeout",
                    location="query",
                    schema={
                        "type": "number",
                        "minimum": 0,
                        "maximum": settings.poll_timeout_max_s,
                        "default": settings.poll_timeout_default_s,
                    },
                    description="Longest wait in seconds (decimals allowed).",
                    example=25,
                ),
                Parameter(
                    name="limit",
                    location="query",
                    schema={
                        "type": "integer",
                        "minimum": 1,
                        "maximum": settings.events_limit_max,
                        "default": settings.events_limit_default,
                    },
                    description="Most events in one answer.",
                    example=100,
                ),
                Parameter(
                    name="log",
                    location="query",
                    schema={"type": "string"},
                    description="The log id the client's offsets belong to.",
                    example=_LOG_EXAMPLE,
                ),
            ),
            replies=(
                Reply(
                    status=200,
                    description="The events (possibly none, after a timeout).",
                    schema=ref("EventPage"),
                    example={
                        "events": [
                            {
                                "offset": 18,
                                "ts": 1763900001.5,
                                "type": "message.sent",
                                "message": {**_MESSAGE_EXAMPLE, "id": 18, "author": "bob"},
                            }
                        ],
                        "next": 18,
                        "log": _LOG_EXAMPLE,
                    },
                ),
            ),
            failures=(
                Failure(
                    status=400, codes={_VALIDATION: "`field` is `after`, `timeout` or `limit`"}
                ),
                Failure(
                    status=409,
                    codes={
                        "offset_out_of_range": "`after` is above the head, which `head` gives",
                        "log_mismatch": "`log` is not this server's log, which `log` gives: "
                        "start over from `/connect` or `/status`",
                    },
                    example=_error_example(
                        "offset_out_of_range", "after is beyond the head", head=17
                    ),
                ),
            ),
        ),
        Operation(
            method="get",
            path="/health",
            operation_id="health",
            tag="Service",
            summary="Liveness and the head of the log",
            description="No authentication.",
            auth=False,
            replies=(
                Reply(
                    status=200,
                    description="The server is up.",
                    schema=ref("Health"),
                    example={"status": "ok", "offset": 17, "log": _LOG_EXAMPLE},
                ),
            ),
        ),
        Operation(
            method="get",
            path="/openapi.json",
            operation_id="openapi",
            tag="Service",
            summary="This document",
            description="OpenAPI 3.1; no authentication.",
            auth=False,
            replies=(
                Reply(
                    status=200,
                    description="The OpenAPI document.",
                    schema={"type": "object", "required": ["openapi", "paths"]},
                ),
            ),
        ),
        Operation(
            method="get",
            path="/docs",
            operation_id="docs",
            tag="Service",
            summary="This document as a web page",
            description="Self-contained HTML; no authentication.",
            auth=False,
            replies=(
                Reply(
                    status=200,
                    description="The documentation page.",
                    schema={"type": "string"},
                    media_type="text/html",
                ),
            ),
        ),
    )


OPERATIONS: Final = _operations(Settings())

# -------------------------------------------------------------- the builder

_UNAUTHORIZED = Failure(
    status=401,
    codes={"unauthorized": "missing, unknown or revoked token"},
    example=_error_example("unauthorized", "missing or invalid bearer token"),
    headers={"WWW-Authenticate": {"type": "string", "pattern": "^Bearer( |$)"}},
)
_JSON_BODY_FAILURES: Final = (
    Failure(status=400, codes={"bad_json": "the body is not a JSON object"}),
    Failure(status=413, codes={"too_large": "the body is larger than the limit"}),
    Failure(status=415, codes={"unsupported_media_type": "Content-Type is not application/json"}),
)
_BAD_PATH: Final = Failure(
    status=400,
    codes={"bad_request": "a path parameter is not UTF-8 or holds a control character"},
)
_DEFAULT_ERROR_DESCRIPTION: Final = (
    "Errors of the HTTP layer: 400 `bad_request` (malformed request), 408 `timeout`, "
    "413 `too_large` (a body over the operation's limit; any body where it takes none), "
    "414 `uri_too_long`, 417 `expectation_failed`, 431 `headers_too_large`, 500 `internal`, "
    "501 `not_implemented`, 503 `unavailable` (too many connections, or the log failed; "
    "with `Retry-After`), 505 `version_not_supported`."
)


def _merged_failures(operation: Operation) -> dict[int, dict[str, str]]:
    shared: list[Failure] = []
    if operation.auth:
        shared.append(_UNAUTHORIZED)
    if operation.body is not None and operation.body_media_type == JSON_MEDIA_TYPE:
        shared.extend(_JSON_BODY_FAILURES)
    if any(p.location == "path" for p in operation.parameters):
        shared.append(_BAD_PATH)
    merged: dict[int, dict[str, str]] = {}
    for failure in (*operation.failures, *shared):
        merged.setdefault(failure.status, {}).update(failure.codes)
    return merged


def _failure_response(status: int, codes: Mapping[str, str], operation: Operation) -> Schema:
    described = "; ".join(f"`{code}`: {why}" for code, why in codes.items())
    schema = {
        "allOf": [
            ref("Error"),
            {
                "type": "object",
                "properties": {
                    "error": {"type": "object", "properties": {"code": {"enum": list(codes)}}}
                },
            },
        ]
    }
    media: Schema = {"schema": schema}
    example = next(
        (f.example for f in operation.failures if f.status == status and f.example is not None),
        None,
    )
    if example is None and status == _UNAUTHORIZED.status and operation.auth:
        example = _UNAUTHORIZED.example
    if example is None:
        code = next(iter(codes))
        example = _error_example(code, codes[code])
    media["example"] = example
    response: Schema = {"description": described, "content": {JSON_MEDIA_TYPE: media}}
    headers: dict[str, Schema] = {}
    if status == _UNAUTHORIZED.status and operation.auth:
        headers.update(_UNAUTHORIZED.headers)
    for failure in operation.failures:
        if failure.status == status:
            headers.update(failure.headers)
    if headers:
        response["headers"] = {
            name: {"schema": schema, "required": True} for name, schema in headers.items()
        }
    return response


def _reply_response(reply: Reply) -> Schema:
    response: Schema = {"description": reply.description}
    if reply.schema is not None:
        media: Schema = {"schema": reply.schema}
        if reply.example is not None:
            media["example"] = reply.example
        response["content"] = {reply.media_type: media}
    if reply.headers:
        response["headers"] = {
            name: {"schema": schema, "required": True} for name, schema in reply.headers.items()
        }
    return response


def _parameter(parameter: Parameter) -> Schema:
    described: Schema = {
        "name": parameter.name,
        "in": parameter.location,
        "required": parameter.required,
        "description": parameter.description,
        "schema": parameter.schema,
    }
    if parameter.example is not None:
        described["example"] = parameter.example
    return described


def _operation_object(operation: Operation) -> Schema:
    described: Schema = {
        "operationId": operation.operation_id,
        "tags": [operation.tag],
        "summary": operation.summary,
        "description": operation.description,
    }
    if not operation.auth:
        described["security"] = []
    if operation.parameters:
        described["parameters"] = [_parameter(p) for p in operation.parameters]
    if operation.body is not None:
        media: Schema = {"schema": operation.body}
        if operation.body_example is not None:
            media["example"] = operation.body_example
        described["requestBody"] = {
            "required": operation.body_required,
            "content": dict.fromkeys((operation.body_media_type, *operation.body_also_as), media),
        }
    responses: Schema = {str(reply.status): _reply_response(reply) for reply in operation.replies}
    for status, codes in sorted(_merged_failures(operation).items()):
        responses[str(status)] = _failure_response(status, codes, operation)
    responses["default"] = {
        "description": _DEFAULT_ERROR_DESCRIPTION,
        "content": {JSON_MEDIA_TYPE: {"schema": ref("Error")}},
    }
    described["responses"] = responses
    return described


def openapi_document(settings: Settings | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1.0 document of the API, its limits taken from `settings`.

    A fresh dict on every call: the caller may change it.
    """
    settings = settings or Settings()
    paths: dict[str, Schema] = {}
    tags: list[str] = []
    for operation in _operations(settings):
        paths.setdefault(operation.path, {})[operation.method] = _operation_object(operation)
        if operation.tag not in tags:
            tags.append(operation.tag)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Chat API",
            "version": API_VERSION,
            "description": "An event-sourced chat service. Connect with `POST /connect` to "
            "get a bearer token, send with `POST /send`, and stay in sync with "
            "`GET /events?after=<offset>`. All bodies are JSON (UTF-8); errors are "
            '`{"error": {"code", "message", ...}}`; times are Unix seconds.',
        },
        "servers": [{"url": "/"}],
        "tags": [{"name": tag} for tag in tags],
        "security": [{SECURITY_SCHEME: []}],
        "paths": paths,
        "components": {
            "schemas": _schemas(settings),
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The `token` from `POST /connect`.",
                }
            },
        },
    }
