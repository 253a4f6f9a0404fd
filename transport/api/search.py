"""Search: `GET /search`, the messages a user may see holding the words asked (`app.search`)."""

from __future__ import annotations

from typing import Final

from app import Settings
from transport.api.endpoint import Api, endpoint
from transport.api.forms import (
    char_class,
    character_sets,
    in_query,
)
from transport.api.messages import BEFORE_MESSAGE, MESSAGE_EXAMPLE, history_json, page_limit
from transport.api.openapi import VALIDATION, Failure, Operation, Parameter, Reply, ref
from transport.api.params import query_int
from transport.server import Request, Response, json_response

__all__ = ["MAX_QUERY_CHARS", "search"]

TAG: Final = "Messages"
MAX_QUERY_CHARS: Final = 200  # app.search's; a test compares the two


def _query_schema() -> dict[str, object]:
    # At least one letter, digit or `_` (a word to look for), as Python's `\w` has them.
    word = f"[{char_class(character_sets().alphanumeric)}_]"
    return in_query(
        {"type": "string", "minLength": 1, "maxLength": MAX_QUERY_CHARS, "pattern": word}
    )


def _search_operation(settings: Settings) -> Operation:
    return Operation(
        operation_id="search",
        tag=TAG,
        summary="Search the messages I may see, newest first",
        description="Every word of `q` (runs of letters, digits and `_`; case and "
        "compatibility forms do not matter; the first 8 count) must begin a word of the "
        "message: `lun` finds `Lunch`. Only unexpired messages of rooms the caller is in, "
        "from when they could see them. Follow `next_before` for older results; a page may "
        "hold fewer than `limit` messages while `next_before` says more may follow (one "
        "search examines a bounded number of messages).",
        parameters=(
            Parameter(
                name="q",
                location="query",
                required=True,
                schema=_query_schema(),
                description=f"The words to look for (1-{MAX_QUERY_CHARS} characters).",
                example="lunch",
            ),
            Parameter(
                name="room",
                location="query",
                schema=ref("RoomId"),
                description="Only this room (one the caller is in).",
                example="general",
            ),
            BEFORE_MESSAGE,
            page_limit(settings),
        ),
        replies=(
            Reply(
                status=200,
                description="One page of results.",
                schema=ref("MessagePage"),
                example={"messages": [MESSAGE_EXAMPLE], "next_before": None},
            ),
        ),
        failures=(
            Failure(
                status=400,
                codes={
                    VALIDATION: "`field` is `q` (no word in it, or too long), `before` or `limit`"
                },
            ),
            Failure(
                status=403, codes={"not_member": "`room` is a group room the caller is not in"}
            ),
            Failure(status=404, codes={"not_found": "no such `room`"}),
        ),
    )


@endpoint(_search_operation)
async def search(api: Api, request: Request) -> Response:
    session = api.session(request)
    page = api.service.search.search(
        session,
        request.query_one("q"),
        room=request.query_one("room"),
        before=query_int(request, "before"),
        limit=query_int(request, "limit"),
    )
    return json_response(200, history_json(page))
