"""Synchronisation: the long poll `GET /events` and every event it may return (`app.polling`).

`EVENT_SCHEMAS` names each event type a client may see and its component
schema; `event_json` writes an event with the shapes of the features its
fields belong to (messages, rooms, comments, scheduled messages, requests).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from app import (
    CommentView,
    EventsPage,
    EventView,
    JoinRequestView,
    MessageView,
    RoomView,
    ScheduledView,
    Settings,
)
from transport.api.endpoint import Api, endpoint
from transport.api.forms import QUERY_TEXT_PATTERN, natural_schema, page_size_schema, query_number
from transport.api.messages import MESSAGE_EXAMPLE, comment_json, message_json
from transport.api.openapi import (
    VALIDATION,
    Failure,
    Operation,
    Parameter,
    Reply,
    Schema,
    array_of,
    error_example,
    event_schema,
    object_schema,
    ref,
)
from transport.api.params import query_int, query_seconds
from transport.api.rooms import request_json, room_json
from transport.api.schedule import scheduled_json
from transport.server import Request, Response, json_response

__all__ = [
    "EVENT_SCHEMAS",
    "LOG_EXAMPLE",
    "LOG_PARAMETER",
    "event_json",
    "events_json",
    "events",
    "schemas",
]

TAG: Final = "Synchronisation"
LOG_EXAMPLE: Final = "0e916ce411c3969a76159695286b6425"
# The `log` check of a poll and of a stream.
LOG_PARAMETER: Final = Parameter(
    name="log",
    location="query",
    schema={"type": "string", "pattern": QUERY_TEXT_PATTERN},
    description="The log id the client's offsets belong to (a different one: `409 log_mismatch`).",
    example=LOG_EXAMPLE,
)

# Event types a client may see, by wire name -> component schema name.
EVENT_SCHEMAS: Final[Mapping[str, str]] = {
    "message.sent": "MessageSentEvent",
    "room.created": "RoomCreatedEvent",
    "room.member_joined": "MemberJoinedEvent",
    "room.member_left": "MemberLeftEvent",
    "cursor.moved": "CursorMovedEvent",
    "message.commented": "MessageCommentedEvent",
    "message.edited": "MessageEditedEvent",  # their schemas: transport.api.edits
    "message.deleted": "MessageDeletedEvent",
    "room.join_requested": "JoinRequestedEvent",
    "room.join_decided": "JoinDecidedEvent",
    "message.scheduled": "MessageScheduledEvent",
    "message.cancelled": "MessageCancelledEvent",
    "message.schedule_failed": "ScheduleFailedEvent",
    "user.banned": "UserBannedEvent",
    "user.blocked": "UserBlockedEvent",
    "user.unblocked": "UserUnblockedEvent",
}

_FIELD_JSON: Final[Mapping[type[Any], Callable[[Any], dict[str, Any]]]] = {
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


def events_json(page: EventsPage) -> dict[str, Any]:
    return {"events": [event_json(e) for e in page.events], "next": page.next, "log": page.log}


def _event_schemas() -> dict[str, Schema]:
    scheduled_id = {
        "type": "integer",
        "minimum": 1,
        "description": "The id of the scheduled message.",
    }
    members = {"room": ref("RoomId"), "user": ref("Name")}
    return {
        "MessageSentEvent": event_schema(
            "message.sent",
            "A message was sent to a room the caller is in.",
            {"message": ref("Message")},
        ),
        "RoomCreatedEvent": event_schema(
            "room.created",
            "A room the caller is a member of was created.",
            {"room": ref("RoomInfo")},
        ),
        "MemberJoinedEvent": event_schema(
            "room.member_joined", "A user joined a room the caller is in.", members
        ),
        "MemberLeftEvent": event_schema(
            "room.member_left", "A user left a room the caller is in.", members
        ),
        "CursorMovedEvent": event_schema(
            "cursor.moved",
            "The caller's shared cursor moved (sent to that user's sessions only).",
            {
                "user": ref("Name"),
                "cursor": {"type": "integer", "minimum": 0},
                "session": {
                    "type": ["integer", "null"],
                    "description": "The session whose acknowledgement moved it.",
                },
            },
        ),
        "MessageCommentedEvent": event_schema(
            "message.commented",
            "A comment on a message of a room the caller had joined by then.",
            {"comment": ref("Comment")},
        ),
        "JoinRequestedEvent": event_schema(
            "room.join_requested",
            "A user asked to join a room through a link (sent to the owner and the requester).",
            {"request": ref("JoinRequest")},
        ),
        "JoinDecidedEvent": event_schema(
            "room.join_decided",
            "The owner approved or rejected a join request (sent to the owner and the "
            "requester); an approval is followed by `room.member_joined`.",
            {"request": ref("JoinRequest")},
        ),
        "MessageScheduledEvent": event_schema(
            "message.scheduled",
            "The caller scheduled a message (sent to that user's sessions only).",
            {"scheduled": ref("Scheduled")},
        ),
        "MessageCancelledEvent": event_schema(
            "message.cancelled",
            "The caller cancelled a scheduled message (that user's sessions only).",
            {"scheduled": scheduled_id},
        ),
        "ScheduleFailedEvent": event_schema(
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
        "UserBannedEvent": event_schema(
            "user.banned",
            "The caller was banned from sending after reports (sent to that user only).",
            {"user": ref("Name"), "until": {"type": "number", "description": "Unix s."}},
        ),
        "UserBlockedEvent": event_schema(
            "user.blocked",
            "The caller blocked `user` (sent to the caller's sessions only).",
            {"user": ref("Name")},
        ),
        "UserUnblockedEvent": event_schema(
            "user.unblocked",
            "The caller unblocked `user` (sent to the caller's sessions only).",
            {"user": ref("Name")},
        ),
    }


def schemas(settings: Settings) -> dict[str, Schema]:
    """The component schemas of `/events`: the page, the union of events, each event."""
    offset = {"type": "integer", "minimum": 0}
    return {
        "EventPage": object_schema(
            ["events", "next", "log"],
            {
                "events": array_of(ref("Event")),
                "next": {**offset, "description": "Pass as `after` next time."},
                "log": {"type": "string"},
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
        **_event_schemas(),
    }


def _events_operation(settings: Settings) -> Operation:
    return Operation(
        operation_id="events",
        tag=TAG,
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
                schema=natural_schema(0),
                description="The last offset the client has.",
                example=17,
            ),
            query_number(
                "timeout",
                {
                    "type": "number",
                    "minimum": 0,
                    "maximum": settings.poll_timeout_max_s,
                    "default": settings.poll_timeout_default_s,
                },
                "Longest wait in seconds (decimals allowed).",
                25,
            ),
            query_number(
                "limit",
                page_size_schema(settings.events_limit_default, settings.events_limit_max),
                "Most events in one answer.",
                100,
            ),
            LOG_PARAMETER,
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
                            "message": {**MESSAGE_EXAMPLE, "id": 18, "author": "bob"},
                        }
                    ],
                    "next": 18,
                    "log": LOG_EXAMPLE,
                },
            ),
        ),
        failures=(
            Failure(status=400, codes={VALIDATION: "`field` is `after`, `timeout` or `limit`"}),
            Failure(
                status=409,
                codes={
                    "offset_out_of_range": "`after` is above the head, which `head` gives",
                    "log_mismatch": "`log` is not this server's log, which `log` gives: "
                    "start over from `/connect` or `/status`",
                },
                example=error_example("offset_out_of_range", "after is beyond the head", head=17),
            ),
        ),
    )


@endpoint(_events_operation)
async def events(api: Api, request: Request) -> Response:
    session = api.session(request)
    after = query_int(request, "after", required=True)
    assert after is not None
    page = await api.service.polling.poll(
        session,
        after=after,
        timeout_s=0.0 if request.closing.is_set() else query_seconds(request, "timeout"),
        limit=query_int(request, "limit"),
        log_id=request.query_one("log"),
    )
    return json_response(200, events_json(page))
