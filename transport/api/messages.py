"""Messages: send, history and comments (`app.messages`).

`POST /send` is `send` below, which calls `service.messages.send`
(`app/messages.py`), whose rules are `domain/rules.py`. Each handler is
declared with its OpenAPI operation right above it; the message shapes
(`message_json`, `comment_json`, ...) and their component schemas are at
the top. The failures every sending endpoint shares (`BANNED`,
`RATE_LIMITED`) and the `Idempotency-Key` header are here too.
"""

from __future__ import annotations

from typing import Any, Final

from app import CommentView, FileView, HistoryPage, MessageView, ScheduledView, Settings
from transport.api.endpoint import Api, endpoint
from transport.api.forms import (
    natural_schema,
    nullable,
    page_size_schema,
    query_number,
    text_schema,
)
from transport.api.openapi import (
    VALIDATION,
    Failure,
    Operation,
    Parameter,
    Reply,
    Schema,
    array_of,
    error_example,
    object_schema,
    path_parameter,
    ref,
)
from transport.api.params import path_id, query_int
from transport.api.schedule import scheduled_json, scheduled_reply
from transport.server import Request, Response, json_response, read_json

__all__ = [
    "MAX_FILE_NAME_BYTES",
    "MESSAGE_EXAMPLE",
    "BANNED",
    "BLOCKED",
    "RATE_LIMITED",
    "IDEMPOTENCY_KEY",
    "MESSAGE_ID",
    "message_json",
    "file_json",
    "comment_json",
    "history_json",
    "schemas",
    "text_refusal",
    "BEFORE_MESSAGE",
    "page_limit",
]

# A rule of domain.files, which does not export it; a test compares the two.
MAX_FILE_NAME_BYTES: Final = 255
TAG: Final = "Messages"

# `room` and `to` both given, neither null: refused (`null` is the same as leaving it out).
NOT_BOTH_ROOM_AND_TO: Final = {
    "required": ["room", "to"],
    "properties": {"room": {"not": {"type": "null"}}, "to": {"not": {"type": "null"}}},
}

_TS: Final = 1763900000.123
MESSAGE_EXAMPLE: Final = {
    "id": 17,
    "room": "general",
    "author": "alice",
    "text": "hi",
    "ts": _TS,
    "comments": 0,
}
_FILE_EXAMPLE: Final = {
    "name": "notes.txt",
    "size": 3,
    "content_type": "text/plain; charset=utf-8",
    "sha256": "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
}
_COMMENT_EXAMPLE: Final = {
    "id": 24,
    "message": 17,
    "room": "general",
    "author": "bob",
    "text": "agreed",
    "ts": _TS + 5,
}


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
    if message.edited is not None:
        body["edited"] = message.edited
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


def history_json(page: HistoryPage) -> dict[str, Any]:
    return {
        "messages": [message_json(m) for m in page.messages],
        "next_before": page.next_before,
    }


def schemas(settings: Settings) -> dict[str, Schema]:
    """The component schemas of messages, their files and their comments."""
    offset_id = {"type": "integer", "minimum": 1}
    return {
        "Message": object_schema(
            ["id", "room", "author", "text", "ts", "comments"],
            {
                "id": {**offset_id, "description": "The offset of its `message.sent` event."},
                "room": ref("RoomId"),
                "author": ref("Name"),
                "text": {"type": "string"},
                "ts": {"type": "number", "description": "When it was sent (Unix s)."},
                "comments": {"type": "integer", "minimum": 0},
                "scheduled": {
                    **offset_id,
                    "description": "The id of the scheduled message it delivered.",
                },
                "file": ref("FileInfo"),
                "edited": {"type": "number", "description": "When it was last edited (Unix s)."},
            },
            examples=[MESSAGE_EXAMPLE],
        ),
        "FileInfo": object_schema(
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
        "SendRequest": {
            "type": "object",
            "description": "`room` (default `general`) or `to` (a user), not both.",
            "required": ["text"],
            "properties": {
                "text": text_schema(settings),
                "room": nullable(ref("RoomId")),
                "to": nullable(ref("Name")),
                "send_at": nullable(
                    {
                        "type": "number",
                        "description": "Send at this Unix time instead of now (at most "
                        f"{settings.max_schedule_ahead_s / 86400:g} days ahead); a time not in "
                        "the future sends at once.",
                    }
                ),
            },
            "not": NOT_BOTH_ROOM_AND_TO,
            "examples": [{"text": "hi"}, {"text": "hello", "to": "bob"}],
        },
        "Sent": object_schema(["message"], {"message": ref("Message")}),
        "MessagePage": object_schema(
            ["messages", "next_before"],
            {
                "messages": array_of(ref("Message"), description="Newest first."),
                "next_before": {
                    "type": ["integer", "null"],
                    "description": "Pass as `before` for the next older page; "
                    "null when there are no older messages.",
                },
            },
        ),
        "Comment": object_schema(
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
        "CommentRequest": object_schema(
            ["text"], {"text": text_schema(settings)}, examples=[{"text": "agreed"}]
        ),
        "Commented": object_schema(["comment"], {"comment": ref("Comment")}),
        "CommentList": object_schema(
            ["comments", "next"],
            {
                "comments": array_of(ref("Comment"), description="Oldest first."),
                "next": {
                    "type": ["integer", "null"],
                    "minimum": 1,
                    "description": "The `after` of the next page; null on the last page.",
                },
            },
        ),
    }


# ------------------------------------------------- what sending endpoints share

IDEMPOTENCY_KEY: Final = Parameter(
    name="Idempotency-Key",
    location="header",
    schema={"type": "string", "pattern": "^[!-~]{1,64}$"},
    description="1-64 printable ASCII characters, no spaces. A repeat by the same user "
    "returns the original 201 body and appends nothing, also after a restart.",
    example="c0ffee-1",
)
MESSAGE_ID: Final = path_parameter(
    "id",
    natural_schema(1),
    "A message id; anything that is not a number is `404`.",
    17,
)
BANNED: Final = Failure(
    status=403,
    codes={"banned": "the caller is banned from sending until `until`"},
    example=error_example(
        "banned", "you are banned from sending after reports from other users", until=_TS + 14400
    ),
)
BLOCKED: Final = Failure(
    status=403,
    codes={"forbidden": "the recipient of a direct message blocks the caller"},
)
RATE_LIMITED: Final = Failure(
    status=429,
    codes={
        "rate_limited": "too many messages to `general` in this window; `retry_after` "
        "(seconds) says when the window ends"
    },
    example=error_example(
        "rate_limited",
        "at most 20 messages to general per window; try again in 42 s",
        retry_after=41.5,
    ),
    headers={"Retry-After": {"type": "string", "pattern": "^[0-9]+$"}},
)
_NOT_MEMBER_OF_THE_ROOM: Final = Failure(
    status=403, codes={"not_member": "the caller is not in the room"}
)
_NOT_MEMBER_OF_ITS_ROOM: Final = Failure(
    status=403, codes={"not_member": "the message is in a group room the caller is not in"}
)
_NO_SUCH_MESSAGE: Final = Failure(
    status=404, codes={"not_found": "no such message, expired, or not visible to the caller"}
)


# ------------------------------------------------------------------- endpoints


BEFORE_MESSAGE: Final = query_number(
    "before", natural_schema(1), "Only messages with an id below this one.", 17
)


def page_limit(settings: Settings) -> Parameter:
    """`limit` of a page of messages or comments (the history's page sizes)."""
    return query_number(
        "limit",
        page_size_schema(settings.history_limit_default, settings.history_limit_max),
        "Page size.",
        50,
    )


def text_refusal(settings: Settings) -> str:
    """What a 400 says of a refused `text` (`domain.check_text`), for every write of one."""
    return (
        "`field` is `text` (empty, whitespace only, longer than "
        f"{settings.max_text_length}, or holding NUL)"
    )


def _send_operation(settings: Settings) -> Operation:
    return Operation(
        operation_id="send",
        tag=TAG,
        summary="Send a message to a room or to a user",
        description="`room` defaults to `general`. `to` sends a direct message; the "
        "direct room is created with the first message.",
        parameters=(IDEMPOTENCY_KEY,),
        body=ref("SendRequest"),
        body_example={"text": "hi", "room": "general"},
        replies=(
            Reply(
                status=201,
                description="The message is durable.",
                schema=ref("Sent"),
                example={"message": MESSAGE_EXAMPLE},
            ),
            scheduled_reply(),
        ),
        failures=(
            Failure(
                status=400,
                codes={
                    VALIDATION: f"{text_refusal(settings)}, `room`, `to` "
                    "(both `room` and `to`, not a valid name, or yourself), or "
                    "`Idempotency-Key` (not 1-64 printable ASCII characters), or "
                    "`send_at` (not a number, or more than "
                    f"{settings.max_schedule_ahead_s / 86400:g} days ahead)"
                },
                example=error_example(VALIDATION, "text must not be empty", field="text"),
            ),
            _NOT_MEMBER_OF_THE_ROOM,
            Failure(status=404, codes={"not_found": "no such room, or no such user (`to`)"}),
            BANNED,
            BLOCKED,
            RATE_LIMITED,
        ),
    )


@endpoint(_send_operation)
async def send(api: Api, request: Request) -> Response:
    session = api.session(request)
    body = await read_json(request)
    sent = await api.service.messages.send(
        session,
        text=body.get("text"),
        room=body.get("room"),
        to=body.get("to"),
        send_at=body.get("send_at"),
        idempotency_key=request.headers.get("idempotency-key"),
    )
    if isinstance(sent, ScheduledView):
        return json_response(202, {"scheduled": scheduled_json(sent)})
    return json_response(201, {"message": message_json(sent)})


def _history_operation(settings: Settings) -> Operation:
    return Operation(
        operation_id="roomMessages",
        tag=TAG,
        summary="Page through a room's history, newest first",
        description="Unexpired messages only. Follow `next_before` for older pages.",
        parameters=(
            path_parameter(
                "room",
                ref("RoomId"),
                "The room id (percent-encode `:` if your client needs to).",
                "general",
            ),
            BEFORE_MESSAGE,
            page_limit(settings),
        ),
        replies=(
            Reply(
                status=200,
                description="One page.",
                schema=ref("MessagePage"),
                example={"messages": [MESSAGE_EXAMPLE], "next_before": None},
            ),
        ),
        failures=(
            Failure(status=400, codes={VALIDATION: "`field` is `before` or `limit`"}),
            _NOT_MEMBER_OF_THE_ROOM,
            Failure(
                status=404,
                codes={
                    "not_found": "no such room; also a direct room the caller is not in, "
                    "so that ids do not leak"
                },
            ),
        ),
    )


@endpoint(_history_operation)
async def history(api: Api, request: Request) -> Response:
    session = api.session(request)
    page = await api.service.messages.history(
        session,
        request.path_params["room"],
        before=query_int(request, "before"),
        limit=query_int(request, "limit"),
    )
    return json_response(200, history_json(page))


def _comment_operation(settings: Settings) -> Operation:
    return Operation(
        operation_id="comment",
        tag=TAG,
        summary="Comment on a message",
        description="Members of the message's room who had joined when it was sent.",
        parameters=(MESSAGE_ID,),
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
                codes={VALIDATION: text_refusal(settings)},
            ),
            _NOT_MEMBER_OF_ITS_ROOM,
            BANNED,
            _NO_SUCH_MESSAGE,
        ),
    )


@endpoint(_comment_operation)
async def comment(api: Api, request: Request) -> Response:
    session = api.session(request)
    message = path_id(request, "message")
    body = await read_json(request)
    added = await api.service.messages.comment(session, message, text=body.get("text"))
    return json_response(201, {"comment": comment_json(added)})


def _comments_operation(settings: Settings) -> Operation:
    return Operation(
        operation_id="comments",
        tag=TAG,
        summary="Page through a message's comments, oldest first",
        description="Follow `next` (pass it as `after`) for the next page; `null` on the last.",
        parameters=(
            MESSAGE_ID,
            query_number(
                "after", natural_schema(0), "Only comments with an id above this one.", 18
            ),
            page_limit(settings),
        ),
        replies=(
            Reply(
                status=200,
                description="One page.",
                schema=ref("CommentList"),
                example={"comments": [_COMMENT_EXAMPLE], "next": None},
            ),
        ),
        failures=(
            Failure(status=400, codes={VALIDATION: "`field` is `after` or `limit`"}),
            _NOT_MEMBER_OF_ITS_ROOM,
            _NO_SUCH_MESSAGE,
        ),
    )


@endpoint(_comments_operation)
async def comments(api: Api, request: Request) -> Response:
    session = api.session(request)
    page = api.service.messages.comments(
        session,
        path_id(request, "message"),
        after=query_int(request, "after"),
        limit=query_int(request, "limit"),
    )
    body = {"comments": [comment_json(c) for c in page.comments], "next": page.next}
    return json_response(200, body)
