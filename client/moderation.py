"""Moderation: reporting a user, and the ban that enough reports bring.

Each reporter counts once; when enough different users have reported
someone, the server bans them from sending for a while and says so with a
`user.banned` event, which `watch` and interactive mode show.
"""

from __future__ import annotations

import argparse
from collections.abc import Coroutine, Mapping
from typing import Any, Final

from attrs import field, frozen

from client.api import Api
from client.context import EXIT_OK, Context, UsageError, session_api
from client.display import Display, EventLines
from client.http import quote
from client.jsonread import boolean, number_or_none, obj, string
from client.slash import Shell, Start, Words
from client.subcommand import Subcommand
from client.terminal import json_line, printable, when

__all__ = [
    "EVENT_LINES",
    "REPORT",
    "SLASH_HELP",
    "ModerationApi",
    "ReportOutcome",
    "report",
    "slash_commands",
]

SLASH_HELP: Final = """\
  /report <user> [reason]          report a user"""


@frozen(kw_only=True)
class ReportOutcome:
    """`POST /users/{name}/report`: whether the user is banned now."""

    user: str
    banned: bool
    raw: Mapping[str, Any] = field(factory=dict, eq=False, repr=False)

    @classmethod
    def from_json(cls, value: object) -> ReportOutcome:
        """Raises BadResponseError when `value` is not a report answer."""
        fields = obj(value, "report")
        return cls(
            user=string(fields, "user", "report"),
            banned=boolean(fields, "banned", "report"),
            raw=fields,
        )


class ModerationApi(Api):
    """The endpoint of reports."""

    async def report(self, name: str, reason: str | None = None) -> ReportOutcome:
        """Report user `name`.

        Raises ApiError (validation_failed, not_found) and the errors of `HttpClient.request`.
        """
        payload = {"reason": reason} if reason is not None else None
        response = await self.call("POST", f"/users/{quote(name)}/report", payload)
        return ReportOutcome.from_json(response.json())


def _banned(fields: Mapping[str, Any], display: Display) -> str:
    user, until = fields.get("user"), number_or_none(fields, "until")
    who = "you are" if user == display.me else f"{user} is"
    if until is not None:
        return f"* {who} banned from sending until {when(until)}"
    return f"* {who} banned from sending"


EVENT_LINES: Final[EventLines] = {"user.banned": _banned}


async def report(ctx: Context, *, user: str, reason: str | None) -> int:
    """Report a user (enough distinct reporters ban them from sending)."""
    session = ctx.load()
    async with session_api(ctx, session, ModerationApi) as api:
        outcome = await ctx.retry(lambda: api.report(user, reason))
    if ctx.json:
        ctx.say(json_line(dict(outcome.raw)))
    elif outcome.banned:
        ctx.say(f"reported {printable(outcome.user)}; they are banned from sending for now")
    else:
        ctx.say(f"reported {printable(outcome.user)}")
    return EXIT_OK


def _report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("user", metavar="USER")
    parser.add_argument("--reason", metavar="R", help="why (at most 500 characters)")


REPORT: Final = Subcommand(
    name="report",
    summary="report a user",
    details="Each user's report counts once; enough reports from\ndifferent users ban the "
    "reported user from sending for a while.",
    arguments=_report_arguments,
    run=lambda args, ctx, stdin: report(ctx, user=args.user, reason=args.reason),
)


def slash_commands(ctx: Context, shell: Shell) -> dict[str, Start]:
    """`/report <user> [reason]`."""

    def report_(words: str) -> Coroutine[Any, Any, int]:
        parts = Words(words)
        user = parts.take()
        if not user:
            raise UsageError("usage: /report <user> [reason]")
        return report(ctx, user=user, reason=parts.rest or None)

    return {"/report": report_}
