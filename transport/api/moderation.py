"""Moderation: reporting a user (enough distinct reporters ban them), and blocking one.

See `app.moderation`.
"""

from __future__ import annotations

from typing import Final

from app import MAX_REASON_CHARS, Settings
from transport.api.endpoint import Api, endpoint
from transport.api.forms import nullable
from transport.api.jsonbody import optional_json
from transport.api.openapi import (
    VALIDATION,
    Failure,
    Operation,
    Reply,
    Schema,
    array_of,
    object_schema,
    path_parameter,
    ref,
)
from transport.server import Request, Response, empty, json_response

__all__ = ["MAX_REPORT_REASON_CHARS", "block", "blocked", "report", "schemas", "unblock"]

MAX_REPORT_REASON_CHARS: Final = MAX_REASON_CHARS
TAG: Final = "Moderation"


def schemas(settings: Settings) -> dict[str, Schema]:
    """The component schemas of reports."""
    return {
        "ReportRequest": object_schema(
            [],
            {"reason": nullable({"type": "string", "maxLength": MAX_REPORT_REASON_CHARS})},
            examples=[{"reason": "spam"}],
        ),
        "BlockList": object_schema(
            ["blocked"],
            {"blocked": array_of(ref("Name"), description="Names the caller blocks.")},
            examples=[{"blocked": ["mallory"]}],
        ),
        "Reported": object_schema(
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
    }


def _report_operation(settings: Settings) -> Operation:
    return Operation(
        operation_id="report",
        tag=TAG,
        summary="Report a user",
        description="The body may be left out. One report per reporter counts; at "
        f"{settings.report_threshold} distinct reporters the user is banned from "
        f"sending (`/send`, `/files`, comments) for {settings.ban_duration_s:g} s. "
        "Reports during a ban do not count toward the next one.",
        parameters=(path_parameter("name", ref("Name"), "The user reported.", "mallory"),),
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
                    VALIDATION: "`field` is `reason` (not a text of at most "
                    f"{MAX_REPORT_REASON_CHARS} characters) or `name` (reporting yourself)"
                },
            ),
            Failure(status=404, codes={"not_found": "no such user"}),
        ),
    )


@endpoint(_report_operation)
async def report(api: Api, request: Request) -> Response:
    session = api.session(request)
    body = await optional_json(request)
    name = request.path_params["name"]
    banned = await api.service.moderation.report(session, name, reason=body.get("reason"))
    return json_response(202, {"user": name, "banned": banned})


_BLOCKED_USER = path_parameter("name", ref("Name"), "The user blocked.", "mallory")
_BLOCK_FAILURES = (
    Failure(status=400, codes={VALIDATION: "`field` is `name`: blocking yourself"}),
    Failure(status=404, codes={"not_found": "no such user"}),
    Failure(status=429, codes={"rate_limited": "the caller's budget of reports and blocks"}),
)


def _block_operation(settings: Settings) -> Operation:
    return Operation(
        operation_id="block",
        tag=TAG,
        summary="Block a user",
        description="The user can no longer send the caller direct messages (by name or by "
        "room id: `403 forbidden`) nor invite them to rooms. Blocking twice is no error.",
        parameters=(_BLOCKED_USER,),
        replies=(Reply(status=204, description="The user is blocked."),),
        failures=_BLOCK_FAILURES,
    )


@endpoint(_block_operation)
async def block(api: Api, request: Request) -> Response:
    await api.service.moderation.block(api.session(request), request.path_params["name"])
    return empty()


def _unblock_operation(settings: Settings) -> Operation:
    return Operation(
        operation_id="unblock",
        tag=TAG,
        summary="Unblock a user",
        description="Undoes `POST /users/{name}/block`; unblocking one not blocked is no error.",
        parameters=(_BLOCKED_USER,),
        replies=(Reply(status=204, description="The user is not blocked."),),
        failures=_BLOCK_FAILURES,
    )


@endpoint(_unblock_operation)
async def unblock(api: Api, request: Request) -> Response:
    await api.service.moderation.unblock(api.session(request), request.path_params["name"])
    return empty()


def _blocked_operation(settings: Settings) -> Operation:
    return Operation(
        operation_id="blocked",
        tag=TAG,
        summary="Users I block",
        description="The names the caller blocks.",
        replies=(
            Reply(
                status=200,
                description="The blocked names.",
                schema=ref("BlockList"),
                example={"blocked": ["mallory"]},
            ),
        ),
    )


@endpoint(_blocked_operation)
async def blocked(api: Api, request: Request) -> Response:
    names = api.service.moderation.blocked(api.session(request))
    return json_response(200, {"blocked": list(names)})
