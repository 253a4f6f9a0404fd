"""Scheduled messages: the caller's pending ones, and cancelling one (`app.schedule`).

Scheduling itself is `POST /send` with a `send_at` (`transport.api.messages`),
which answers with `scheduled_reply`.
"""

from __future__ import annotations

from typing import Any, Final

from app import ScheduledView, Settings
from transport.api.endpoint import Api, endpoint
from transport.api.forms import natural_schema
from transport.api.openapi import (
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
from transport.server import Request, Response, empty, json_response

__all__ = [
    "SCHEDULED_STATUSES",
    "SCHEDULED_EXAMPLE",
    "scheduled_json",
    "scheduled_reply",
    "schemas",
]

SCHEDULED_STATUSES: Final = ("pending", "sent", "cancelled", "failed")
TAG: Final = "Messages"

SCHEDULED_EXAMPLE: Final = {
    "id": 25,
    "author": "alice",
    "text": "stand-up in 5",
    "send_at": 1763903600.0,
    "status": "pending",
    "room": "general",
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


def schemas(settings: Settings) -> dict[str, Schema]:
    """The component schemas of scheduled messages."""
    return {
        "Scheduled": object_schema(
            ["id", "author", "text", "send_at", "status"],
            {
                "id": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "The offset of its `message.scheduled`.",
                },
                "author": ref("Name"),
                "text": {"type": "string"},
                "send_at": {"type": "number", "description": "When it is due (Unix s)."},
                "status": {"enum": list(SCHEDULED_STATUSES)},
                "room": ref("RoomId"),
                "to": ref("Name"),
            },
            description="A scheduled message: `room` for a room, or `to` for a direct one.",
            oneOf=[{"required": ["room"]}, {"required": ["to"]}],
            examples=[SCHEDULED_EXAMPLE],
        ),
        "ScheduledAccepted": object_schema(["scheduled"], {"scheduled": ref("Scheduled")}),
        "ScheduledList": object_schema(
            ["scheduled"],
            {"scheduled": array_of(ref("Scheduled"), description="Pending, by `send_at`.")},
        ),
    }


def scheduled_reply() -> Reply:
    """The `202` of `POST /send` with a `send_at` in the future."""
    return Reply(
        status=202,
        description="`send_at` is in the future: the message is scheduled, and the server "
        "sends it when it falls due (also after a restart).",
        schema=ref("ScheduledAccepted"),
        example={"scheduled": SCHEDULED_EXAMPLE},
    )


# ------------------------------------------------------------------- endpoints


def _pending_operation(settings: Settings) -> Operation:
    return Operation(
        operation_id="listScheduled",
        tag=TAG,
        summary="My pending scheduled messages",
        description="The caller's pending scheduled messages, by `send_at`.",
        replies=(
            Reply(
                status=200,
                description="Pending scheduled messages.",
                schema=ref("ScheduledList"),
                example={"scheduled": [SCHEDULED_EXAMPLE]},
            ),
        ),
    )


@endpoint(_pending_operation)
async def pending(api: Api, request: Request) -> Response:
    scheduled = api.service.schedule.pending(api.session(request))
    return json_response(200, {"scheduled": [scheduled_json(s) for s in scheduled]})


def _cancel_operation(settings: Settings) -> Operation:
    return Operation(
        operation_id="cancelScheduled",
        tag=TAG,
        summary="Cancel a scheduled message",
        description="Only the caller's own, still pending.",
        parameters=(
            path_parameter(
                "id",
                natural_schema(1),
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
                example=error_example("conflict", "scheduled message 25 is already sent"),
            ),
        ),
    )


@endpoint(_cancel_operation)
async def cancel(api: Api, request: Request) -> Response:
    session = api.session(request)
    await api.service.schedule.cancel(session, path_id(request, "scheduled message"))
    return empty()
