"""Scheduled messages: `schedule`, `scheduled`, `cancel`, and the times they take.

`--at` takes an ISO 8601 time (`2026-11-23T14:05`, `2026-11-23 14:05+01:00`,
`...Z`; without an offset it is local time) or a bare `HH:MM` (the next time
the clock shows it). `--in` takes a duration: seconds (`90`) or numbers with
units, one or several (`90s`, `15m`, `2h`, `1d`, `1h30m`, `1.5h`).
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from typing import Final

from client.commands import EXIT_OK, Context, UsageError, new_idempotency_key
from client.models import Message
from client.render import json_line, message_line
from client.social import room_id, social_api
from client.social_models import Scheduled
from client.social_render import scheduled_line

__all__ = ["cancel", "parse_at", "parse_duration", "schedule", "scheduled"]

_UNIT_SECONDS: Final = {"d": 86400.0, "h": 3600.0, "m": 60.0, "min": 60.0, "s": 1.0}
_NUMBER: Final = r"[0-9]+(?:\.[0-9]+)?"
# Longest unit first, so that "min" is not read as "m" followed by junk.
_PART: Final = re.compile(rf"({_NUMBER})(min|d|h|m|s)", re.ASCII)
_PARTS: Final = re.compile(rf"(?:{_NUMBER}(?:min|d|h|m|s))+", re.ASCII)
_BARE: Final = re.compile(_NUMBER, re.ASCII)
_CLOCK: Final = re.compile(r"([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?", re.ASCII)


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


async def schedule(
    ctx: Context, *, text: str, send_at: float, room: str | None, to: str | None
) -> int:
    """Schedule a message (sent at once when `send_at` has passed)."""
    session = ctx.load()
    room = room_id(room, session.user) if room is not None else None
    key = new_idempotency_key()
    async with social_api(ctx, session) as api:
        result: Scheduled | Message = await ctx.retry(
            lambda: api.schedule(text, send_at=send_at, room=room, to=to, idempotency_key=key)
        )
    if isinstance(result, Message):
        if ctx.json:
            ctx.say(json_line({"message": dict(result.raw)}))
        else:
            ctx.notice("that time has come already: sent now")
            ctx.say(message_line(result, session.user))
        return EXIT_OK
    if ctx.json:
        ctx.say(json_line({"scheduled": dict(result.raw)}))
        return EXIT_OK
    ctx.say(f"scheduled {scheduled_line(result, session.user)}")
    ctx.notice(f"cancel with: chat cancel {result.id}")
    return EXIT_OK


async def scheduled(ctx: Context) -> int:
    """The caller's pending scheduled messages, soonest first."""
    session = ctx.load()
    async with social_api(ctx, session) as api:
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
    async with social_api(ctx, session) as api:
        await api.cancel(scheduled_id)
    if ctx.json:
        ctx.say(json_line({"scheduled": scheduled_id, "cancelled": True}))
    else:
        ctx.say(f"cancelled scheduled message #{scheduled_id}")
    return EXIT_OK
