"""How comments, join requests, scheduled messages and bans read on a terminal.

`EVENT_LINES` maps the event types added for issues 6-8 to the line shown
for them in `watch` and interactive mode (`client.render` takes them in);
the other functions render the answers of the subcommands.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any, Final

from client.http import BadResponseError
from client.models import Event
from client.social_models import Comment, JoinRequest, Scheduled

__all__ = [
    "EVENT_LINES",
    "comment_line",
    "printable",
    "request_line",
    "room_label",
    "scheduled_line",
    "target_label",
    "when",
]

DIRECT_PREFIX: Final = "dm:"


def printable(text: str) -> str:
    """`text` without control characters (they could move the cursor), newlines kept."""
    return "".join("\ufffd" if c != "\n" and unicodedata.category(c) == "Cc" else c for c in text)


def room_label(room: str, me: str) -> str:
    """`general`, `g42`, or `@bob` for the direct room of `me` and bob."""
    if room.startswith(DIRECT_PREFIX):
        others = [n for n in room[len(DIRECT_PREFIX) :].split(":") if n != me.casefold()]
        return "@" + (others[0] if others else me.casefold())
    return room


def when(ts: float, now: float | None = None) -> str:
    """`14:05` today, `2026-11-24 14:05` on another day (local time)."""
    local = time.localtime(ts)
    today = time.localtime(time.time() if now is None else now)
    if local[:3] == today[:3]:
        return time.strftime("%H:%M", local)
    return time.strftime("%Y-%m-%d %H:%M", local)


def target_label(room: str | None, to: str | None, me: str) -> str:
    """Where a scheduled message goes: `general`, `g12` or `@bob`."""
    return f"@{to}" if to is not None else room_label(room or "general", me)


def comment_line(comment: Comment, me: str) -> str:
    """`12:34 [general] re #17 bob: nice` (17: the message commented on)."""
    text = printable(comment.text).replace("\n", "\n      ")
    label = room_label(comment.room, me)
    return (
        f"{time.strftime('%H:%M', time.localtime(comment.ts))} [{label}] "
        f"re #{comment.message} {printable(comment.author)}: {text}"
    )


def scheduled_line(scheduled: Scheduled, me: str) -> str:
    """`#42 at 14:05 to general: text` (and its status unless pending)."""
    status = "" if scheduled.status == "pending" else f" ({scheduled.status})"
    target = printable(target_label(scheduled.room, scheduled.to, me))
    text = printable(scheduled.text).replace("\n", " ")
    return f"#{scheduled.id} at {when(scheduled.send_at)} to {target}{status}: {text}"


def request_line(request: JoinRequest) -> str:
    """`carol asked to join g12 at 14:05` / `carol: approved for g12`."""
    user = printable(request.user)
    if request.status == "pending":
        at = f" at {when(request.requested_at)}" if request.requested_at is not None else ""
        return f"{user} asked to join {printable(request.room)}{at}"
    return f"{user}: {request.status} for {printable(request.room)}"


def _commented(event: Event, me: str) -> str | None:
    comment = _safe(Comment.from_json, event.raw.get("comment"))
    if comment is None:
        return "* a message got a comment"
    # The clock is added by `event_line`; keep the rest of `comment_line`.
    return comment_line(comment, me).split(" ", 1)[1]


def _join_requested(event: Event, me: str) -> str:
    request = event.raw.get("request")
    if not isinstance(request, dict):
        return "* a join request"
    user, room = request.get("user"), request.get("room")
    if user == me:
        return f"* you asked to join {room}; its owner decides"
    return f"* {user} asks to join {room} (chat approve {room} {user})"


def _join_decided(event: Event, me: str) -> str:
    request = event.raw.get("request")
    if not isinstance(request, dict):
        return "* a join request was decided"
    user, room, status = request.get("user"), request.get("room"), request.get("status")
    who = "your" if user == me else f"{user}'s"
    return f"* {who} request to join {room} was {status}"


def _scheduled(event: Event, me: str) -> str:
    scheduled = _safe(Scheduled.from_json, event.raw.get("scheduled"))
    if scheduled is None:
        return "* a message was scheduled"
    return f"* scheduled {scheduled_line(scheduled, me)}"


def _cancelled(event: Event, me: str) -> str:
    return f"* scheduled message #{event.raw.get('scheduled')} cancelled"


def _schedule_failed(event: Event, me: str) -> str:
    reason = event.raw.get("reason")
    return f"* scheduled message #{event.raw.get('scheduled')} was not sent: {reason}"


def _banned(event: Event, me: str) -> str:
    user, until = event.raw.get("user"), event.raw.get("until")
    who = "you are" if user == me else f"{user} is"
    if isinstance(until, int | float) and not isinstance(until, bool):
        return f"* {who} banned from sending until {when(until)}"
    return f"* {who} banned from sending"


def _safe(make: Callable[[object], Any], value: object) -> Any:
    try:
        return make(value)
    except BadResponseError:
        return None


EVENT_LINES: Final[Mapping[str, Callable[[Event, str], str | None]]] = {
    "message.commented": _commented,
    "room.join_requested": _join_requested,
    "room.join_decided": _join_decided,
    "message.scheduled": _scheduled,
    "message.cancelled": _cancelled,
    "message.schedule_failed": _schedule_failed,
    "user.banned": _banned,
}
