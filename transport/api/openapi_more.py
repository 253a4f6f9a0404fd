"""The OpenAPI description of rooms, comments, scheduled messages, reports and files.

`openapi.py` holds the builder and the core endpoints; this module adds the
operations and schemas of the later issues, in the same `Operation` table
form, and `openapi.py` merges them in (`more_schemas`, `more_operations`).
The JSON shapes follow `transport.api.mapping`; the errors follow the
domain rules each handler in `transport.api.routes` reaches.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from app import Settings
from transport.api.openapi import (
    _IDEMPOTENCY_KEY,
    Failure,
    Operation,
    Parameter,
    Reply,
    Schema,
    _error_example,
    _event,
    array_of,
    ref,
)

__all__ = [
    "MAX_REPORT_REASON_CHARS",
    "MAX_ROOM_NAME_CHARS",
    "MAX_INVITED_ON_CREATE",
    "MAX_FILE_NAME_BYTES",
    "SCHEDULED_STATUSES",
    "JOIN_STATUSES",
    "SEND_FAILURES",
    "scheduled_reply",
    "more_operations",
    "more_schemas",
]

# Limits the rules enforce that are not settings (transport may import only the
# public names of app and domain, which do not include these); a test compares
# each with its source: app.timed (reason), domain.names (room name), app.rooms
# (members on create), domain.files (file name).
MAX_REPORT_REASON_CHARS: Final = 500
MAX_ROOM_NAME_CHARS: Final = 64
MAX_INVITED_ON_CREATE: Final = 100
MAX_FILE_NAME_BYTES: Final = 255
SCHEDULED_STATUSES: Final = ("pending", "sent", "cancelled", "failed")
JOIN_STATUSES: Final = ("pending", "approved", "rejected", "member")
_VALIDATION: Final = "validation_failed"
_RAW_MEDIA_TYPE: Final = "application/octet-stream"

# ---------------------------------------------------------------- examples

_TS: Final = 1763900000.123
_SHA256_EXAMPLE: Final = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
_LINK_TOKEN_EXAMPLE: Final = "5be1a2c3" * 8
_GROUP_EXAMPLE: Final = {
    "id": "g19",
    "name": "Проект Ω",
    "kind": "group",
    "owner": "alice",
    "members": ["alice", "bob"],
    "unread": 0,
}
_FILE_EXAMPLE: Final = {
    "name": "notes.txt",
    "size": 3,
    "content_type": "text/plain; charset=utf-8",
    "sha256": _SHA256_EXAMPLE,
}
_FILE_MESSAGE_EXAMPLE: Final = {
    "id": 23,
    "room": "g19",
    "author": "alice",
    "text": "notes.txt",
    "ts": _TS,
    "comments": 0,
    "file": _FILE_EXAMPLE,
}
_COMMENT_EXAMPLE: Final = {
    "id": 24,
    "message": 17,
    "room": "general",
    "author": "bob",
    "text": "agreed",
    "ts": _TS + 5,
}
_SCHEDULED_EXAMPLE: Final = {
    "id": 25,
    "author": "alice",
    "text": "stand-up in 5",
    "send_at": 1763903600.0,
    "status": "pending",
    "room": "general",
}
_PENDING_EXAMPLE: Final = {
    "room": "g19",
    "user": "carol",
    "status": "pending",
    "requested_at": _TS + 9,
}


# ------------------------------------------------------------------ schemas


def _object(required: list[str], properties: Mapping[str, Schema], **more: Any) -> Schema:
    return {"type": "object", "required": required, "properties": dict(properties), **more}


def _event_schemas() -> dict[str, Schema]:
    scheduled_id = {
        "type": "integer",
        "minimum": 1,
        "description": "The id of the scheduled message.",
    }
    return {
        "MessageCommentedEvent": _event(
            "message.commented",
            "A comment on a message of a room the caller had joined by then.",
            {"comment": ref("Comment")},
        ),
        "JoinRequestedEvent": _event(
            "room.join_requested",
            "A user asked to join a room through a link (sent to the owner and the requester).",
            {"request": ref("JoinRequest")},
        ),
        "JoinDecidedEvent": _event(
            "room.join_decided",
            "The owner approved or rejected a join request (sent to the owner and the "
            "requester); an approval is followed by `room.member_joined`.",
            {"request": ref("JoinRequest")},
        ),
        "MessageScheduledEvent": _event(
            "message.scheduled",
            "The caller scheduled a message (sent to that user's sessions only).",
            {"scheduled": ref("Scheduled")},
        ),
        "MessageCancelledEvent": _event(
            "message.cancelled",
            "The caller cancelled a scheduled message (that user's sessions only).",
            {"scheduled": scheduled_id},
        ),
        "ScheduleFailedEvent": _event(
            "message.schedule_failed",
            "A scheduled message fell due but the rules in force then refused it (that "
            "user's sessions only); `reason` is the error code it met.",
            {
                "scheduled": scheduled_id,
                "reason": {
                    "type": "string",
                    "pattern": "^[a-z][a-z_]*$",
                    "description": "An error code such as `not_member`, `banned` or "
                    "`rate_limited`.",
                    "examples": ["not_member"],
                },
            },
        ),
        "UserBannedEvent": _event(
            "user.banned",
            "The caller was banned from sending after reports (sent to that user only).",
            {"user": ref("Name"), "until": {"type": "number", "description": "Unix s."}},
        ),
    }


def more_schemas(settings: Settings) -> dict[str, Schema]:
    """The component schemas of the later endpoints, limits from `settings`."""
    text = {
        "type": "string",
        "minLength": 1,
        "maxLength": settings.max_text_length,
        "description": f"1-{settings.max_text_length} characters, not only whitespace, no NUL.",
    }
    offset_id = {"type": "integer", "minimum": 1}
    return {
        "FileInfo": _object(
            ["name", "size", "content_type", "sha256"],
            {
                "name": {
                    "type": "string",
                    "minLength": 1,
                    "description": f"At most {MAX_FILE_NAME_BYTES} bytes of UTF-8; path "
                    "separators and control characters were replaced with `_`.",
                },
                "size": {"type": "integer", "minimum": 0, "maximum": settings.max_file_bytes},
                "content_type": {"type": "string", "description": "As uploaded (a media type)."},
                "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            },
            description="The file a message carries.",
            examples=[_FILE_EXAMPLE],
        ),
        "Comment": _object(
            ["id", "message", "room", "author", "text", "ts"],
            {
                "id": {**offset_id, "description": "The offset of its `message.commented`."},
                "message": {**offset_id, "description": "The id of the message commented on."},
                "room": ref("RoomId"),
                "author": ref("Name"),
                "text": {"type": "string"},
                "ts": {"type": "number", "description": "Unix s."},
            },
            examples=[_COMMENT_EXAMPLE],
        ),
        "CommentRequest": _object(["text"], {"text": text}, examples=[{"text": "agreed"}]),
        "Commented": _object(["comment"], {"comment": ref("Comment")}),
        "CommentList": _object(
            ["comments"], {"comments": array_of(ref("Comment"), description="Oldest first.")}
        ),
        "Scheduled": _object(
            ["id", "author", "text", "send_at", "status"],
            {
                "id": {**offset_id, "description": "The offset of its `message.scheduled`."},
                "author": ref("Name"),
                "text": {"type": "string"},
                "send_at": {"type": "number", "description": "When it is due (Unix s)."},
                "status": {"enum": list(SCHEDULED_STATUSES)},
                "room": ref("RoomId"),
                "to": ref("Name"),
            },
            description="A scheduled message: `room` for a room, or `to` for a direct one.",
            oneOf=[{"required": ["room"]}, {"required": ["to"]}],
            examples=[_SCHEDULED_EXAMPLE],
        ),
        "ScheduledAccepted": _object(["scheduled"], {"scheduled": ref("Scheduled")}),
        "ScheduledList": _object(
            ["scheduled"],
            {"scheduled": array_of(ref("Scheduled"), description="Pending, by `send_at`.")},
        ),
        "CreateRoomRequest": _object(
            ["name"],
            {
                "name": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_ROOM_NAME_CHARS,
                    "description": f"1-{MAX_ROOM_NAME_CHARS} characters (after trimming), "
                    "no control characters; need not be unique.",
                },
                "members": array_of(
                    ref("Name"),
                    maxItems=MAX_INVITED_ON_CREATE,
                    description="Users who become members at once (the caller always is).",
                ),
            },
            examples=[{"name": "Проект Ω", "members": ["bob"]}],
        ),
        "RoomReply": _object(["room"], {"room": ref("Room")}),
        "RoomList": _object(["rooms"], {"rooms": array_of(ref("Room"))}),
        "InviteRequest": _object(["name"], {"name": ref("Name")}, examples=[{"name": "carol"}]),
        "JoinLink": _object(
            ["room", "token", "path"],
            {
                "room": ref("RoomId"),
                "token": {
                    "type": "string",
                    "pattern": "^[0-9a-f]{64}$",
                    "description": "256 random bits; shown only here (the server keeps a hash).",
                },
                "path": {"type": "string", "pattern": "^/join/[0-9a-f]{64}$"},
            },
            examples=[
                {
                    "room": "g19",
                    "token": _LINK_TOKEN_EXAMPLE,
                    "path": f"/join/{_LINK_TOKEN_EXAMPLE}",
                }
            ],
        ),
        "JoinRequest": _object(
            ["room", "user", "status"],
            {
                "room": ref("RoomId"),
                "user": ref("Name"),
                "status": {
                    "enum": list(JOIN_STATUSES),
                    "description": "`member`: the user already was one.",
                },
                "requested_at": {
                    "type": "number",
                    "description": "Unix s; on pending requests only.",
                },
            },
            examples=[_PENDING_EXAMPLE],
        ),
        "JoinRequestReply": _object(["request"], {"request": ref("JoinRequest")}),
        "JoinRequestList": _object(
            ["requests"],
            {"requests": array_of(ref("JoinRequest"), description="Pending, oldest first.")},
        ),
        "DecideRequest": _object(
            ["approve"], {"approve": {"type": "boolean"}}, examples=[{"approve": True}]
        ),
        "ReportRequest": _object(
            [],
            {"reason": {"type": "string", "maxLength": MAX_REPORT_REASON_CHARS}},
            examples=[{"reason": "spam"}],
        ),
        "Reported": _object(
            ["user", "banned"],
            {
                "user": {"type": "string", "description": "The name as given in the path."},
                "banned": {
                    "type": "boolean",
                    "description": "True when this report was the one that banned the user.",
                },
            },
            examples=[{"user": "mallory", "banned": False}],
        ),
        **_event_schemas(),
    }


# ------------------------------------------------------------- operations


def _path(name: str, schema: Schema, description: str, example: Any) -> Parameter:
    return Parameter(
        name=name,
        location="path",
        required=True,
        schema=schema,
        description=description,
        example=example,
    )


_ROOM = _path("room", ref("RoomId"), "A group room id.", "g19")
_MESSAGE_ID = _path(
    "id",
    {"type": "integer", "minimum": 1},
    "A message id; anything that is not a number is `404`.",
    17,
)
_BANNED = Failure(
    status=403,
    codes={"banned": "the caller is banned from sending until `until`"},
    example=_error_example(
        "banned", "you are banned from sending after reports from other users", until=_TS + 14400
    ),
)
_RATE_LIMITED = Failure(
    status=429,
    codes={
        "rate_limited": "too many messages to `general` in this window; `retry_after` "
        "(seconds) says when the window ends"
    },
    example=_error_example(
        "rate_limited",
        "at most 20 messages to general per window; try again in 42 s",
        retry_after=41.5,
    ),
    headers={"Retry-After": {"type": "string", "pattern": "^[0-9]+$"}},
)
_NOT_OWNER = Failure(status=403, codes={"not_owner": "the caller is not the room's owner"})


def _room_not_found(also: str = "") -> Failure:
    """The 404 of an owner's operation: rooms the caller is not in are not revealed."""
    return Failure(
        status=404,
        codes={"not_found": f"no such group room, or one the caller is not in{also}"},
    )


# Failures /send gains with the later issues (the core operation lists the rest).
SEND_FAILURES: Final = (_BANNED, _RATE_LIMITED)


def scheduled_reply() -> Reply:
    """The `202` of `POST /send` with a `send_at` in the future."""
    return Reply(
        status=202,
        description="`send_at` is in the future: the message is scheduled, and the server "
        "sends it when it falls due (also after a restart).",
        schema=ref("ScheduledAccepted"),
        example={"scheduled": _SCHEDULED_EXAMPLE},
    )


def _messages_operations(settings: Settings) -> tuple[Operation, ...]:
    return (
        Operation(
            method="get",
            path="/scheduled",
            operation_id="listScheduled",
            tag="Messages",
            summary="My pending scheduled messages",
            description="The caller's pending scheduled messages, by `send_at`.",
            replies=(
                Reply(
                    status=200,
                    description="Pending scheduled messages.",
                    schema=ref("ScheduledList"),
                    example={"scheduled": [_SCHEDULED_EXAMPLE]},
                ),
            ),
        ),
        Operation(
            method="delete",
            path="/scheduled/{id}",
            operation_id="cancelScheduled",
            tag="Messages",
            summary="Cancel a scheduled message",
            description="Only the caller's own, still pending.",
            parameters=(
                _path(
                    "id",
                    {"type": "integer", "minimum": 1},
                    "The scheduled message's id; anything that is not a number is `404`.",
                    25,
                ),
            ),
            replies=(Reply(status=204, description="Cancelled."),),
            failures=(
                Failure(
                    status=404,
                    codes={"not_found": "no such scheduled message, or not the caller's"},
                ),
                Failure(
                    status=409,
                    codes={"conflict": "it was already sent, cancelled, or failed"},
                    example=_error_example("conflict", "scheduled message 25 is already sent"),
                ),
            ),
        ),
        Operation(
            method="post",
            path="/messages/{id}/comments",
            operation_id="comment",
            tag="Messages",
            summary="Comment on a message",
            description="Members of the message's room who had joined when it was sent.",
            parameters=(_MESSAGE_ID,),
            body=ref("CommentRequest"),
            body_example={"text": "agreed"},
            replies=(
                Reply(
                    status=201,
                    description="The comment is durable.",
                    schema=ref("Commented"),
                    example={"comment": _COMMENT_EXAMPLE},
                ),
            ),
            failures=(
                Failure(
                    status=400,
                    codes={
                        _VALIDATION: "`field` is `text` (empty, whitespace only, longer than "
                        f"{settings.max_text_length}, or holding NUL)"
                    },
                ),
                Failure(
                    status=403,
                    codes={"not_member": "the message is in a group room the caller is not in"},
                ),
                _BANNED,
                Failure(
                    status=404,
                    codes={"not_found": "no such message, expired, or not visible to the caller"},
                ),
            ),
        ),
        Operation(
            method="get",
            path="/messages/{id}/comments",
            operation_id="comments",
            tag="Messages",
            summary="A message's comments",
            description="Oldest first.",
            parameters=(_MESSAGE_ID,),
            replies=(
                Reply(
                    status=200,
                    description="The comments.",
                    schema=ref("CommentList"),
                    example={"comments": [_COMMENT_EXAMPLE]},
                ),
            ),
            failures=(
                Failure(
                    status=403,
                    codes={"not_member": "the message is in a group room the caller is not in"},
                ),
                Failure(
                    status=404,
                    codes={"not_found": "no such message, expired, or not visible to the caller"},
                ),
            ),
        ),
    )


def _rooms_operations() -> tuple[Operation, ...]:
    room_reply = {"room": _GROUP_EXAMPLE}
    return (
        Operation(
            method="post",
            path="/rooms",
            operation_id="createRoom",
            tag="Rooms",
            summary="Create a private group room",
            description="The caller becomes its owner; listed users become members at once. "
            "Its id is `g<offset>`.",
            body=ref("CreateRoomRequest"),
            body_example={"name": "Проект Ω", "members": ["bob"]},
            replies=(
                Reply(
                    status=201,
                    description="The room.",
                    schema=ref("RoomReply"),
                    example=room_reply,
                ),
            ),
            failures=(
                Failure(
                    status=400,
                    codes={
                        _VALIDATION: f"`field` is `name` (not 1-{MAX_ROOM_NAME_CHARS} "
                        "characters, or holding control characters) or `members` (not a list "
                        f"of at most {MAX_INVITED_ON_CREATE} valid names)"
                    },
                ),
                Failure(status=404, codes={"not_found": "a listed member does not exist"}),
            ),
        ),
        Operation(
            method="get",
            path="/rooms",
            operation_id="listRooms",
            tag="Rooms",
            summary="The rooms I am in",
            description="Every room the caller is a member of, with unread counts.",
            replies=(
                Reply(
                    status=200,
                    description="The rooms.",
                    schema=ref("RoomList"),
                    example={"rooms": [_GROUP_EXAMPLE]},
                ),
            ),
        ),
        Operation(
            method="post",
            path="/rooms/{room}/members",
            operation_id="invite",
            tag="Rooms",
            summary="Add a user to my room",
            description="Owner only; the user becomes a member at once.",
            parameters=(_ROOM,),
            body=ref("InviteRequest"),
            body_example={"name": "carol"},
            replies=(
                Reply(
                    status=201,
                    description="The user is now a member.",
                    schema=ref("RoomReply"),
                    example=room_reply,
                ),
                Reply(
                    status=200,
                    description="The user already was a member; nothing changed.",
                    schema=ref("RoomReply"),
                ),
            ),
            failures=(
                Failure(status=400, codes={_VALIDATION: "`field` is `name`"}),
                _NOT_OWNER,
                _room_not_found(", or no such user"),
            ),
        ),
        Operation(
            method="post",
            path="/rooms/{room}/leave",
            operation_id="leave",
            tag="Rooms",
            summary="Leave a group room",
            description="The body may be left out. The owner may leave only when nobody else "
            "is in the room.",
            parameters=(_ROOM,),
            body={"type": "object"},
            body_required=False,
            replies=(Reply(status=204, description="The caller left."),),
            failures=(
                Failure(status=404, codes={"not_found": "the caller is not in such a room"}),
                Failure(
                    status=409,
                    codes={
                        "conflict": "`general` and direct rooms cannot be left; the owner "
                        "cannot leave while other members remain"
                    },
                ),
            ),
        ),
        Operation(
            method="post",
            path="/rooms/{room}/links",
            operation_id="createLink",
            tag="Rooms",
            summary="Create a join link",
            description="Owner only; the body may be left out. Users who open the link ask to "
            "join, and the owner decides.",
            parameters=(_ROOM,),
            body={"type": "object"},
            body_required=False,
            replies=(
                Reply(
                    status=201,
                    description="The link; its token is shown only here.",
                    schema=ref("JoinLink"),
                    example={
                        "room": "g19",
                        "token": _LINK_TOKEN_EXAMPLE,
                        "path": f"/join/{_LINK_TOKEN_EXAMPLE}",
                    },
                ),
            ),
            failures=(_NOT_OWNER, _room_not_found()),
        ),
        Operation(
            method="delete",
            path="/rooms/{room}/links/{token}",
            operation_id="revokeLink",
            tag="Rooms",
            summary="Revoke a join link",
            description="Owner only. Requests already pending stay pending.",
            parameters=(
                _ROOM,
                _path(
                    "token",
                    {"type": "string", "minLength": 1},
                    "The link's token.",
                    _LINK_TOKEN_EXAMPLE,
                ),
            ),
            replies=(Reply(status=204, description="Revoked."),),
            failures=(_NOT_OWNER, _room_not_found(", or no such link to it")),
        ),
        Operation(
            method="post",
            path="/join/{token}",
            operation_id="join",
            tag="Rooms",
            summary="Ask to join a room through a link",
            description="The body may be left out. Asking again while pending changes nothing.",
            parameters=(
                _path(
                    "token",
                    {"type": "string", "minLength": 1},
                    "The token of a join link.",
                    _LINK_TOKEN_EXAMPLE,
                ),
            ),
            body={"type": "object"},
            body_required=False,
            replies=(
                Reply(
                    status=202,
                    description="The request waits for the owner.",
                    schema=ref("JoinRequestReply"),
                    example={"request": _PENDING_EXAMPLE},
                ),
                Reply(
                    status=200,
                    description="The caller already is a member (`status` is `member`).",
                    schema=ref("JoinRequestReply"),
                    example={"request": {"room": "g19", "user": "carol", "status": "member"}},
                ),
            ),
            failures=(Failure(status=404, codes={"not_found": "unknown or revoked link"}),),
        ),
        Operation(
            method="get",
            path="/rooms/{room}/requests",
            operation_id="joinRequests",
            tag="Rooms",
            summary="Pending join requests of my room",
            description="Owner only; oldest first.",
            parameters=(_ROOM,),
            replies=(
                Reply(
                    status=200,
                    description="The pending requests.",
                    schema=ref("JoinRequestList"),
                    example={"requests": [_PENDING_EXAMPLE]},
                ),
            ),
            failures=(_NOT_OWNER, _room_not_found()),
        ),
        Operation(
            method="post",
            path="/rooms/{room}/requests/{name}",
            operation_id="decideJoin",
            tag="Rooms",
            summary="Approve or reject a join request",
            description="Owner only. Approval makes the user a member.",
            parameters=(
                _ROOM,
                _path("name", ref("Name"), "The user who asked to join.", "carol"),
            ),
            body=ref("DecideRequest"),
            body_example={"approve": True},
            replies=(
                Reply(
                    status=200,
                    description="Decided.",
                    schema=ref("JoinRequestReply"),
                    example={"request": {"room": "g19", "user": "carol", "status": "approved"}},
                ),
            ),
            failures=(
                Failure(status=400, codes={_VALIDATION: "`field` is `approve` (not a boolean)"}),
                _NOT_OWNER,
                _room_not_found(", or no pending request from that user"),
            ),
        ),
    )


def _other_operations(settings: Settings) -> tuple[Operation, ...]:
    return (
        Operation(
            method="post",
            path="/users/{name}/report",
            operation_id="report",
            tag="Moderation",
            summary="Report a user",
            description="The body may be left out. One report per reporter counts; at "
            f"{settings.report_threshold} distinct reporters the user is banned from "
            f"sending (`/send`, `/files`, comments) for {settings.ban_duration_s:g} s. "
            "Reports during a ban do not count toward the next one.",
            parameters=(_path("name", ref("Name"), "The user reported.", "mallory"),),
            body=ref("ReportRequest"),
            body_required=False,
            body_example={"reason": "spam"},
            replies=(
                Reply(
                    status=202,
                    description="The report is recorded (or did not count again).",
                    schema=ref("Reported"),
                    example={"user": "mallory", "banned": False},
                ),
            ),
            failures=(
                Failure(
                    status=400,
                    codes={
                        _VALIDATION: "`field` is `reason` (not a text of at most "
                        f"{MAX_REPORT_REASON_CHARS} characters) or `name` (reporting yourself)"
                    },
                ),
                Failure(status=404, codes={"not_found": "no such user"}),
            ),
        ),
        Operation(
            method="post",
            path="/files",
            operation_id="upload",
            tag="Files",
            summary="Send a file as a message",
            description="The body is the file's raw bytes (with `Content-Length`, or chunked), "
            "not JSON; its `Content-Type` is the file's media type, any type is accepted "
            f"(default `{_RAW_MEDIA_TYPE}`). The request is checked before a byte of the body "
            "is read (and `100 Continue` is sent only then); the bytes are stored before the "
            "message is appended.",
            parameters=(
                Parameter(
                    name="room",
                    location="query",
                    schema=ref("RoomId"),
                    description="The room (default `general`); not with `to`.",
                    example="general",
                ),
                Parameter(
                    name="to",
                    location="query",
                    schema=ref("Name"),
                    description="Send to a user (a direct message) instead of a room.",
                    example="bob",
                ),
                Parameter(
                    name="name",
                    location="query",
                    required=True,
                    schema={"type": "string", "minLength": 1},
                    description=f"The file's name: at most {MAX_FILE_NAME_BYTES} bytes of UTF-8, "
                    "not only dots; path separators and control characters become `_`.",
                    example="notes.txt",
                ),
                Parameter(
                    name="text",
                    location="query",
                    schema={
                        "type": "string",
                        "minLength": 1,
                        "maxLength": settings.max_text_length,
                    },
                    description="The message's text (default: the file's name).",
                    example="the notes",
                ),
                _IDEMPOTENCY_KEY,
            ),
            body={
                "type": "string",
                "contentMediaType": _RAW_MEDIA_TYPE,
                "description": f"At most {settings.max_file_bytes} bytes.",
            },
            body_media_type=_RAW_MEDIA_TYPE,
            body_also_as=("*/*",),
            replies=(
                Reply(
                    status=201,
                    description="The file is stored and its message is durable.",
                    schema=ref("Sent"),
                    example={"message": _FILE_MESSAGE_EXAMPLE},
                ),
            ),
            failures=(
                Failure(
                    status=400,
                    codes={
                        _VALIDATION: "`field` is `name`, `Content-Type` (not a media type), "
                        "`text`, `to` (both `room` and `to`, not a valid name, or yourself) or "
                        "`Idempotency-Key`"
                    },
                    example=_error_example(
                        _VALIDATION, "a file name must not be empty", field="name"
                    ),
                ),
                Failure(
                    status=403,
                    codes={"not_member": "the caller is not in the group room"},
                ),
                _BANNED,
                Failure(status=404, codes={"not_found": "no such room, or no such user (`to`)"}),
                Failure(
                    status=413,
                    codes={
                        "too_large": f"the file is over {settings.max_file_bytes} bytes: "
                        "decided from `Content-Length` before the body is read, or as soon as "
                        "a chunked body passes the limit; nothing is stored"
                    },
                ),
                _RATE_LIMITED,
            ),
        ),
        Operation(
            method="get",
            path="/messages/{id}/file",
            operation_id="download",
            tag="Files",
            summary="Download a message's file",
            description="Members of the message's room only. The body is the file's bytes "
            "with the `Content-Type` it was uploaded with; `ETag` is its SHA-256 in quotes.",
            parameters=(
                _MESSAGE_ID,
                Parameter(
                    name="If-None-Match",
                    location="header",
                    schema={"type": "string"},
                    description="An `ETag` from an earlier download: `304` when it matches.",
                    example=f'"{_SHA256_EXAMPLE}"',
                ),
            ),
            replies=(
                Reply(
                    status=200,
                    description="The file's bytes.",
                    schema={"type": "string", "contentMediaType": _RAW_MEDIA_TYPE},
                    media_type="*/*",
                    headers={
                        "Content-Disposition": {
                            "type": "string",
                            "description": "`attachment` with an ASCII `filename`; names "
                            'beyond printable ASCII (or with `"`, `\\`, `%`) also get an '
                            "RFC 8187 `filename*`.",
                        },
                        "ETag": {"type": "string", "pattern": '^"[0-9a-f]{64}"$'},
                        "X-Content-Type-Options": {"const": "nosniff"},
                        "Content-Length": {"type": "string", "pattern": "^[0-9]+$"},
                    },
                ),
                Reply(
                    status=304,
                    description="`If-None-Match` matches: the client's copy is current.",
                    headers={"ETag": {"type": "string", "pattern": '^"[0-9a-f]{64}"$'}},
                ),
            ),
            failures=(
                Failure(
                    status=403,
                    codes={"not_member": "the caller is not in the message's room"},
                ),
                Failure(
                    status=404,
                    codes={"not_found": "no such message, expired, or it carries no file"},
                ),
            ),
        ),
    )


def more_operations(settings: Settings) -> tuple[Operation, ...]:
    """The operations of the later endpoints, limits from `settings`."""
    return (
        *_messages_operations(settings),
        *_rooms_operations(),
        *_other_operations(settings),
    )
