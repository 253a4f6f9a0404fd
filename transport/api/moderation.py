"""Moderation: reporting a user; enough distinct reporters ban them (`app.moderation`)."""

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
    object_schema,
    path_parameter,
    ref,
)
from transport.server import Request, Response, json_response

__all__ = ["MAX_REPORT_REASON_CHARS", "report", "schemas"]

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
