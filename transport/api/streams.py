"""The event stream `GET /events/stream`: `/events` as Server-Sent Events (`app.streams`).

Each visible event is one SSE event: `id` its offset, `event` its type,
`data` the JSON `/events` gives it (`polling.event_json`). The stream opens
with `retry` (how long a client waits before reconnecting) and a comment;
a heartbeat is a comment, preceded by an `id`-only block when the position
moved past events the caller may not see, so that a reconnect skips them
too. A reconnect sends `Last-Event-ID`, which wins over `after`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Final

from app import EventStream, Settings
from domain import ValidationError
from transport.api.endpoint import Api, endpoint
from transport.api.forms import natural_schema
from transport.api.messages import MESSAGE_EXAMPLE
from transport.api.openapi import (
    VALIDATION,
    Failure,
    Operation,
    Parameter,
    Reply,
    error_example,
    ref,
)
from transport.api.params import natural, query_int
from transport.api.polling import EVENT_SCHEMAS, LOG_PARAMETER, TAG, event_json
from transport.http import HttpError
from transport.server import (
    Request,
    Response,
    event_stream_response,
    sse_comment,
    sse_event,
    sse_id,
    sse_retry,
)

__all__ = ["RECONNECT_MS", "stream"]

RECONNECT_MS: Final = 1000  # `retry`: a client waits this long before it reconnects
LAST_EVENT_ID: Final = "Last-Event-ID"
# One encoder: json.dumps() with non-default options builds a new one per call.
_ENCODER: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _resume_from(request: Request) -> int:
    """`Last-Event-ID` if sent (a reconnect), else `after` (which is always checked).

    Raises ValidationError when either is not a non-negative integer, or
    `after` is missing.
    """
    after = query_int(request, "after", required=True)
    assert after is not None
    last = request.headers.get(LAST_EVENT_ID.lower())
    if last is None:
        return after
    value = natural(last.strip(" \t"))
    if value is None:
        raise ValidationError(
            f"{LAST_EVENT_ID} must be a non-negative integer", field=LAST_EVENT_ID
        )
    return value


async def _sse(events: EventStream, after: int) -> AsyncGenerator[bytes, None]:
    """The stream's pages as SSE; closes the stream when done or abandoned."""
    try:
        told = after  # the last id the client has been given
        opening = sse_retry(RECONNECT_MS) + sse_comment(f"events after {after}")
        async for page in events:
            if page.events:
                chunk = b"".join(
                    sse_event(e.offset, e.type, _ENCODER.encode(event_json(e))) for e in page.events
                )
                told = page.events[-1].offset
            elif page.next != told:
                chunk = sse_id(page.next) + sse_comment()
                told = page.next
            else:
                chunk = b"" if opening else sse_comment()
            yield opening + chunk
            opening = b""
    finally:
        events.close()


class _Feed:
    """The response's stream: its SSE chunks, and a close that works before the first one."""

    def __init__(self, events: EventStream, after: int) -> None:
        self._events = events
        self._chunks = _sse(events, after)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks

    async def aclose(self) -> None:
        self._events.close()
        await self._chunks.aclose()


def _stream_operation(settings: Settings) -> Operation:
    return Operation(
        operation_id="eventStream",
        tag=TAG,
        summary="Follow the events after an offset as Server-Sent Events",
        description="The events of `/events`, pushed as they become durable on one open "
        "response (`text/event-stream`): each is an SSE event whose `id` is its offset, "
        "`event` its type and `data` its JSON as `/events` shows it. A comment line is "
        f"sent when nothing happened for `--stream-heartbeat` ({settings.stream_heartbeat_s:g} "
        "s); an `id` with no data moves the position past events the caller may not see. "
        "A reconnect resumes from `Last-Event-ID` (which wins over `after`) exactly like a "
        "poll: same `log` check, same `409`s. The cursor: the position the stream opens "
        "from is acknowledged as a poll's `after` is, and each batch of events once it has "
        "been written (when a polling client would ask again). The stream ends after "
        f"`--stream-lifetime` ({settings.stream_lifetime_s:g} s), when its session is "
        "closed and at shutdown (reconnect); one that the client does not read at the "
        "minimum rate is closed. Open streams count against `--max-polls-per-user` "
        f"({settings.max_parked_polls_per_user}) with the parked long polls.",
        parameters=(
            Parameter(
                name="after",
                location="query",
                required=True,
                schema=natural_schema(0),
                description="The last offset the client has when it opens the stream "
                "(a reconnect keeps the URL and adds `Last-Event-ID`).",
                example=17,
            ),
            LOG_PARAMETER,
            Parameter(
                name=LAST_EVENT_ID,
                location="header",
                schema={"type": "string", "pattern": "^[ \t]*[0-9]{1,19}[ \t]*$"},
                description="The id of the last event received (browsers send it when "
                "they reconnect); wins over `after`.",
                example="17",
            ),
        ),
        replies=(
            Reply(
                status=200,
                description="The stream; it stays open. The schema is that of one event "
                "(OpenAPI 3.1 describes each item of an event stream).",
                schema={
                    "type": "object",
                    "required": ["id", "event", "data"],
                    "properties": {
                        "id": {"type": "string", "pattern": "^[0-9]{1,19}$"},
                        "event": {"enum": sorted(EVENT_SCHEMAS)},
                        "data": {
                            "type": "string",
                            "contentMediaType": "application/json",
                            "contentSchema": ref("Event"),
                        },
                    },
                },
                media_type="text/event-stream",
                example={
                    "id": "18",
                    "event": "message.sent",
                    "data": _ENCODER.encode(
                        {
                            "offset": 18,
                            "ts": 1763900001.5,
                            "type": "message.sent",
                            "message": {**MESSAGE_EXAMPLE, "id": 18, "author": "bob"},
                        }
                    ),
                },
            ),
        ),
        failures=(
            Failure(
                status=400,
                codes={VALIDATION: f"`field` is `after` or `{LAST_EVENT_ID}`"},
            ),
            Failure(
                status=404,
                codes={"not_found": "the server offers no stream (`--event-stream no`): long-poll"},
            ),
            Failure(
                status=409,
                codes={
                    "offset_out_of_range": "the position is above the head, which `head` "
                    "gives, or before what the server keeps",
                    "log_mismatch": "`log` is not this server's log, which `log` gives: "
                    "start over from `/connect` or `/status`",
                },
                example=error_example("offset_out_of_range", "after is beyond the head", head=17),
            ),
            Failure(
                status=429,
                codes={
                    "rate_limited": "the caller's long polls and streams are at "
                    "`--max-polls-per-user`"
                },
                headers={"Retry-After": {"type": "string", "pattern": "^[0-9]+$"}},
            ),
        ),
    )


@endpoint(_stream_operation)
async def stream(api: Api, request: Request) -> Response:
    if not api.settings.event_stream:
        raise HttpError(404, "not_found", "this server offers no event stream (--event-stream no)")
    session = api.session(request)
    after = _resume_from(request)
    events = await api.service.streams.open(session, after=after, log_id=request.query_one("log"))
    return event_stream_response(_Feed(events, after))
