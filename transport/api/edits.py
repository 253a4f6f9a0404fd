"""Edits: `PATCH /messages/{id}` and `DELETE /messages/{id}`, the author's own (`app.edits`).

The events they cause (`message.edited`, `message.deleted`) reach the
room's members on `/events`; their component schemas are here, named in
`transport.api.polling.EVENT_SCHEMAS`.
"""

from __future__ import annotations

from typing import Final

from app import Settings
from transport.api.endpoint import Api, endpoint
from transport.api.forms import text_schema
from transport.api.messages import (
    BANNED,
    MESSAGE_EXAMPLE,
    MESSAGE_ID,
    RATE_LIMITED,
    message_json,
    text_refusal,
)
from transport.api.openapi import (
    VALIDATION,
    Failure,
    Operation,
    Reply,
    Schema,
    event_schema,
    object_schema,
    ref,
)
from transport.api.params import path_id
from transport.server import Request, Response, empty, json_response, read_json

__all__ = ["delete", "edit", "schemas"]

TAG: Final = "Messages"
_EDITED_EXAMPLE: Final = {**MESSAGE_EXAMPLE, "text": "hi all", "edited": 1763900042.5}
_NOT_YOURS: Final = Failure(
    status=403, codes={"forbidden": "the message is another user's: only its author may"}
)
_NO_SUCH_MESSAGE: Final = Failure(
    status=404,
    codes={"not_found": "no such message, expired, deleted, or not visible to the caller"},
)


def schemas(settings: Settings) -> dict[str, Schema]:
    """The body of an edit, and the two events edits cause."""
    return {
        "EditRequest": object_schema(
            ["text"], {"text": text_schema(settings)}, examples=[{"text": "hi all"}]
        ),
        "MessageEditedEvent": event_schema(
            "message.edited",
            "A message of a room the caller is in was edited: `message` shows it as it "
            "is now, with `edited`.",
            {"message": ref("Message")},
        ),
        "MessageDeletedEvent": event_schema(
            "message.deleted",
            "A message of a room the caller is in was deleted, with its comments; "
            "its text is no longer shown anywhere.",
            {
                "message": {"type": "integer", "minimum": 1, "description": "Its id."},
                "room": ref("RoomId"),
            },
        ),
    }


def _edit_operation(settings: Settings) -> Operation:
    return Operation(
        operation_id="editMessage",
        tag=TAG,
        summary="Edit one of my messages",
        description="Replaces the text; the message gains `edited` (when). The author "
        "only. An edit is charged like a send: the messages budget and, in `general`, "
        "the rate window. The room's members get `message.edited`.",
        parameters=(MESSAGE_ID,),
        body=ref("EditRequest"),
        body_example={"text": "hi all"},
        replies=(
            Reply(
                status=200,
                description="The message as it is now.",
                schema=ref("Sent"),
                example={"message": _EDITED_EXAMPLE},
            ),
        ),
        failures=(
            Failure(
                status=400,
                codes={VALIDATION: text_refusal(settings)},
            ),
            _NOT_YOURS,
            BANNED,
            _NO_SUCH_MESSAGE,
            RATE_LIMITED,
        ),
    )


@endpoint(_edit_operation)
async def edit(api: Api, request: Request) -> Response:
    session = api.session(request)
    message = path_id(request, "message")
    body = await read_json(request)
    edited = await api.service.edits.edit(session, message, text=body.get("text"))
    return json_response(200, {"message": message_json(edited)})


def _delete_operation(settings: Settings) -> Operation:
    return Operation(
        operation_id="deleteMessage",
        tag=TAG,
        summary="Delete one of my messages",
        description="The author only. The message and its comments and file are gone at "
        "once: history, comments, search and `/events` no longer show them. The room's "
        "members get `message.deleted`.",
        parameters=(MESSAGE_ID,),
        replies=(Reply(status=204, description="The message is deleted."),),
        failures=(_NOT_YOURS, _NO_SUCH_MESSAGE),
    )


@endpoint(_delete_operation)
async def delete(api: Api, request: Request) -> Response:
    session = api.session(request)
    await api.service.edits.delete(session, path_id(request, "message"))
    return empty()
