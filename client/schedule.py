"""Scheduled messages: `schedule`, `scheduled`, `cancel`, the times they take, their events.

`--at` takes an ISO 8601 time (`2026-11-23T14:05`, `2026-11-23 14:05+01:00`,
`...Z`; without an offset it is local time) or a bare `HH:MM` (the next time
the clock shows it). `--in` takes a duration: seconds (`90`) or numbers with
units, one or several (`90s`, `15m`, `2h`, `1d`, `1h30m`, `1.5h`). A time
that has passed sends the message at once. The server sends a scheduled
message when it is due, also after a restart, and tells the author's
sessions when it could not (`message.schedule_failed`).
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Coroutine, Mapping
from datetime import datetime, timedelta
from typing import Any, Final, TextIO

from attrs import field, frozen

from client.api import Api
from client.context import EXIT_OK, Context, UsageError, new_idempotency_key, session_api
from client.display import Display, EventLines
from client.http import BadResponseError
from client.jsonread import (
    answer_list,
    integer,
    member,
    number,
    obj,
    parsed_or_none,
    string,
    string_or_none,
)
from client.messages import Message, message_line
from client.room_book import resolve_room
from client.slash import Shell, Start, Words, parse_id
from client.subcommand import Subcommand, message_id, target_options, text_argument
from client.terminal import json_line, printable, room_label, wait_text, when

__all__ = [
    "CANCEL",
    "EVENT_LINES",
    "SCHEDULE",
    "SCHEDULED",
    "SLASH_HELP",
    "Scheduled",
    "ScheduleApi",
    "cancel",
    "parse_at",
    "parse_duration",
    "schedule",
    "scheduled",
    "scheduled_line",
    "send_time",
    "slash_commands",
]

SLASH_HELP: Final = """\
  /schedule <when> <text>          when: 15m, 2h, 1h30m, 14:05 or 2026-11-23T14:05
  /scheduled, /cancel <id>         your pending scheduled messages; cancel one"""
_UNIT_SECONDS: Final = {"d": 86400.0, "h": 3600.0, "m": 60.0, "min": 60.0, "s": 1.0}
_NUMBER: Final = r"[0-9]+(?:\.[0-9]+)?"
# Longest unit first, so that "min" is not read as "m" followed by junk.
_PART: Final = re.compile(rf"({_NUMBER})(min|d|h|m|s)", re.ASCII)
_PARTS: Final = re.compile(rf"(?:{_NUMBER}(?:min|d|h|m|s))+", re.ASCII)
_BARE: Final = re.compile(_NUMBER, re.ASCII)
_CLOCK: Final = re.compile(r"([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?", re.ASCII)


@frozen(kw_only=True)
class Scheduled:
    """A message scheduled for later: to `room`, or directly to user `to`."""

    id: int
    author: str
    text: str
    send_at: float
    status: str
    room: str | None = None
    to: str | None = None
    raw: Mapping[str, Any] = field(factory=dict, eq=False, repr=False)

    @classmethod
    def from_json(cls, value: object) -> Scheduled:
        """Raises BadResponseError when `value` is not a scheduled message object."""
        fields = obj(value, "scheduled")
        to = string_or_none(fields, "to")
        room = string_or_none(fields, "room")
        if to is None and room is None:
            raise BadResponseError("scheduled has neither room nor to")
        return cls(
            id=integer(fields, "id", "scheduled"),
            author=string(fields, "author", "scheduled"),
            text=string(fields, "text", "scheduled"),
            send_at=number(fields, "send_at", "scheduled"),
            status=string(fields, "status", "scheduled"),
            room=room,
            to=to,
            raw=fields,
        )


def parse_duration(text: str) -> float:
    """Seconds in `90`, `90s`, `15m`, `2h`, `1d`, `1h30m`, `1.5h` (more than zero).

    Raises ValueError for anything else.
    """
    spec = text.strip().lower().replace(" ", "")
    if _BARE.fullmatch(spec):
        seconds = float(spec)
    elif _PARTS.fullmatch(spec):
        seconds = sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _PART.findall(spec))
    else:
        raise ValueError(f"not a duration: {text!r} (try 90s, 15m, 2h, 1d or 1h30m)")
    if not seconds > 0:
        raise ValueError(f"a duration must be more than zero: {text!r}")
    return seconds


def parse_at(text: str, now: float | None = None) -> float:
    """Unix seconds of an ISO 8601 time (local when it has no offset) or a bare `HH:MM`.

    A bare clock time means its next occurrence after `now`. Raises
    ValueError for anything else.
    """
    spec = text.strip()
    current = datetime.fromtimestamp(time.time() if now is None else now).astimezone()
    clock = _CLOCK.fullmatch(spec)
    if clock is not None:
        hour, minute, second = int(clock[1]), int(clock[2]), int(clock[3] or 0)
        try:
            at = current.replace(hour=hour, minute=minute, second=second, microsecond=0)
        except ValueError:
            raise ValueError(f"not a time of day: {text!r}") from None
        naive = at.replace(tzinfo=None)
        if at <= current:
            naive += timedelta(days=1)
        return naive.astimezone().timestamp()  # the offset of that day (DST)
    try:
        parsed = datetime.fromisoformat(spec)
    except ValueError:
        raise ValueError(f"not an ISO 8601 time: {text!r} (try 2026-11-23T14:05)") from None
    if parsed.tzinfo is None:
        parsed = parsed.astimezone()  # local time
    return parsed.timestamp()


def send_time(*, at: str | None, after: str | None, now: float | None = None) -> float:
    """The Unix time of `--at AT` or `--in AFTER` (exactly one).

    Raises UsageError when neither or both are given, or one does not parse.
    """
    if (at is None) == (after is None):
        raise UsageError("give exactly one of --at TIME and --in DURATION")
    now = time.time() if now is None else now
    try:
        return parse_at(at, now) if at is not None else now + parse_duration(after or "")
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


class ScheduleApi(Api):
    """The endpoints of scheduled messages."""

    async def schedule(
        self,
        text: str,
        *,
        send_at: float,
        room: str | None = None,
        to: str | None = None,
        idempotency_key: str,
    ) -> Scheduled | Message:
        """Send `text` at `send_at`: a Scheduled, or the Message when that time has come.

        Raises ApiError (validation_failed, not_member, not_found, banned) and
        the errors of `HttpClient.request`.
        """
        payload: dict[str, object] = {"text": text, "send_at": send_at}
        if to is not None:
            payload["to"] = to
        elif room is not None:
            payload["room"] = room
        response = await self.call(
            "POST", "/send", payload, headers=(("Idempotency-Key", idempotency_key),)
        )
        if response.status == 202:
            return Scheduled.from_json(member(response.json(), "scheduled", "answer"))
        return Message.from_json(member(response.json(), "message", "answer"))

    async def scheduled(self) -> tuple[Scheduled, ...]:
        """The caller's pending scheduled messages, soonest first.

        Raises ApiError and the errors of `HttpClient.request`.
        """
        response = await self.call("GET", "/scheduled")
        return tuple(Scheduled.from_json(s) for s in answer_list(response.json(), "scheduled"))

    async def cancel(self, scheduled: int) -> None:
        """Cancel one of the caller's pending scheduled messages.

        Raises ApiError (not_found, conflict) and the errors of `HttpClient.request`.
        """
        await self.call("DELETE", f"/scheduled/{scheduled}")


def target_label(room: str | None, to: str | None, me: str) -> str:
    """Where a scheduled message goes: `general`, `g12` or `@bob`."""
    return f"@{to}" if to is not None else room_label(room or "general", me)


def scheduled_line(scheduled: Scheduled, me: str, *, now: float | None = None) -> str:
    """`#42 at 14:05 to general: text` (and its status unless pending)."""
    status = "" if scheduled.status == "pending" else f" ({scheduled.status})"
    target = printable(target_label(scheduled.room, scheduled.to, me))
    text = printable(scheduled.text).replace("\n", " ")
    ahead = scheduled.send_at - (time.time() if now is None else now)
    due = f" (in {wait_text(ahead)})" if scheduled.status == "pending" and ahead > 0 else ""
    return f"#{scheduled.id} at {when(scheduled.send_at, now)}{due} to {target}{status}: {text}"


def _scheduled(fields: Mapping[str, Any], display: Display) -> str:
    scheduled = parsed_or_none(Scheduled.from_json, fields.get("scheduled"))
    if scheduled is None:
        return "* a message was scheduled"
    return f"* scheduled {scheduled_line(scheduled, display.me)}"


def _cancelled(fields: Mapping[str, Any], display: Display) -> str:
    return f"* scheduled message #{fields.get('scheduled')} cancelled"


def _schedule_failed(fields: Mapping[str, Any], display: Display) -> str:
    reason = fields.get("reason")
    return f"* scheduled message #{fields.get('scheduled')} was not sent: {reason}"


EVENT_LINES: Final[EventLines] = {
    "message.scheduled": _scheduled,
    "message.cancelled": _cancelled,
    "message.schedule_failed": _schedule_failed,
}


async def schedule(
    ctx: Context, *, text: str, send_at: float, room: str | None, to: str | None
) -> int:
    """Schedule a message (sent at once when `send_at` has passed)."""
    session = ctx.load()
    room = await resolve_room(ctx, session, room) if room is not None else None
    key = new_idempotency_key()
    async with session_api(ctx, session, ScheduleApi) as api:
        result: Scheduled | Message = await ctx.retry(
            lambda: api.schedule(text, send_at=send_at, room=room, to=to, idempotency_key=key)
        )
    if isinstance(result, Message):
        if ctx.json:
            ctx.say(json_line({"message": dict(result.raw)}))
        else:
            ctx.notice("that time has come already: sent now")
            ctx.say(message_line(result, ctx.display(session.user)))
        return EXIT_OK
    if ctx.json:
        ctx.say(json_line({"scheduled": dict(result.raw)}))
        return EXIT_OK
    if not ctx.slash:  # interactive mode shows it when it comes back as an event
        ctx.say(f"scheduled {scheduled_line(result, session.user)}")
    ctx.notice(f"cancel with: {ctx.command(f'cancel {result.id}')}")
    return EXIT_OK


async def scheduled(ctx: Context) -> int:
    """The caller's pending scheduled messages, soonest first."""
    session = ctx.load()
    async with session_api(ctx, session, ScheduleApi) as api:
        pending = await ctx.retry(api.scheduled)
    if ctx.json:
        ctx.say(json_line({"scheduled": [dict(s.raw) for s in pending]}))
        return EXIT_OK
    for item in pending:
        ctx.say(scheduled_line(item, session.user))
    if not pending:
        ctx.notice("no scheduled messages")
    return EXIT_OK


async def cancel(ctx: Context, *, scheduled_id: int) -> int:
    """Cancel one of the caller's pending scheduled messages."""
    session = ctx.load()
    async with session_api(ctx, session, ScheduleApi) as api:
        await api.cancel(scheduled_id)
    if ctx.json:
        ctx.say(json_line({"scheduled": scheduled_id, "cancelled": True}))
    else:
        ctx.say(f"cancelled scheduled message #{scheduled_id}")
    return EXIT_OK


def _schedule_arguments(parser: argparse.ArgumentParser) -> None:
    when = parser.add_mutually_exclusive_group(required=True)
    when.add_argument("--at", metavar="TIME", help="when to send it")
    when.add_argument("--in", dest="after", metavar="DURATION", help="how long from now")
    target_options(parser, "send it")
    parser.add_argument("text", nargs="+", metavar="TEXT", help="the message ('-': read stdin)")


def _cancel_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", type=message_id, metavar="ID", help="as `chat scheduled` shows")


def _run_schedule(
    args: argparse.Namespace, ctx: Context, stdin: TextIO
) -> Coroutine[Any, Any, int]:
    send_at = send_time(at=args.at, after=args.after)
    text = text_argument(args.text, stdin)
    return schedule(ctx, text=text, send_at=send_at, room=args.room, to=args.to)


SCHEDULE: Final = Subcommand(
    name="schedule",
    summary="send a message later",
    details="The server sends it at that time, also\nafter a restart. TIME is ISO 8601 "
    "(2026-11-23T14:05, local time without an\noffset; ...Z or +01:00 with one) or HH:MM "
    "(the next time the clock shows it).\nDURATION is 90, 90s, 15m, 2h, 1d or 1h30m. "
    "A time that has passed sends\nat once; at most 30 days ahead.",
    arguments=_schedule_arguments,
    run=_run_schedule,
)
SCHEDULED: Final = Subcommand(
    name="scheduled",
    summary="your pending scheduled messages",
    details="Soonest first, with the id that\n`chat cancel ID` takes.",
    run=lambda args, ctx, stdin: scheduled(ctx),
)
CANCEL: Final = Subcommand(
    name="cancel",
    summary="cancel a scheduled message",
    details="Only your own, and only while it is\npending (not yet sent or cancelled).",
    arguments=_cancel_arguments,
    run=lambda args, ctx, stdin: cancel(ctx, scheduled_id=args.id),
)


def _when(spec: str) -> float:
    try:
        return send_time(at=None, after=spec)
    except UsageError:
        return send_time(at=spec, after=None)


def slash_commands(ctx: Context, shell: Shell) -> dict[str, Start]:
    """`/schedule <when> <text>` to the current room, `/scheduled`, `/cancel <id>`."""

    def schedule_(words: str) -> Coroutine[Any, Any, int]:
        parts = Words(words)
        spec = parts.take()
        if not spec or not parts.rest:
            raise UsageError("usage: /schedule <when> <text>")
        send_at = _when(spec)
        room = None if shell.room == "general" else shell.room
        return schedule(ctx, text=parts.rest, send_at=send_at, room=room, to=None)

    return {
        "/schedule": schedule_,
        "/scheduled": lambda words: scheduled(ctx),
        "/cancel": lambda words: cancel(ctx, scheduled_id=parse_id(words.strip(), "/cancel <id>")),
    }
