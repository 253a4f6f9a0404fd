"""How messages, events, rooms and status read on a terminal (one line each where possible)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from client.models import Event, Message, Room, Status

# One copy of the label and control-character rules, shared with the social lines.
from client.social_render import DIRECT_PREFIX, EVENT_LINES, room_label
from client.social_render import printable as _printable

__all__ = [
    "clock",
    "event_line",
    "json_line",
    "message_line",
    "room_label",
    "room_lines",
    "status_lines",
]


def clock(ts: float) -> str:
    """Local time of day, `HH:MM`."""
    return time.strftime("%H:%M", time.localtime(ts))


def message_line(message: Message, me: str) -> str:
    """`12:34 [general] alice: hi` (continuation lines indented)."""
    text = _printable(message.text).replace("\n", "\n      ")
    if message.file_name is not None:
        # Without a caption the server makes the file's name the text: show it once.
        caption = "" if message.text == message.file_name else text
        text = f"{caption} [file: {_printable(message.file_name)}]".lstrip(" ")
    return (
        f"{clock(message.ts)} [{room_label(message.room, me)}] {_printable(message.author)}: {text}"
    )


def _joined(event: Event, me: str) -> str:
    return f"* {event.raw.get('user')} joined {room_label(str(event.raw.get('room')), me)}"


def _left(event: Event, me: str) -> str:
    return f"* {event.raw.get('user')} left {room_label(str(event.raw.get('room')), me)}"


def _created(event: Event, me: str) -> str:
    room = event.raw.get("room")
    if isinstance(room, dict):
        room_id = str(room.get("id"))
        label = room_label(room_id, me)
        if room_id.startswith(DIRECT_PREFIX):
            return f"* room {label} created"  # its name is the label already
        owner = room.get("owner")
        by = f" by {owner}" if owner else ""
        return f"* room {label} ({room.get('name')}) created{by}"
    return "* a room was created"


_EVENT_LINES: Final[dict[str, Callable[[Event, str], str | None]]] = {
    "room.created": _created,
    "room.member_joined": _joined,
    "room.member_left": _left,
    "cursor.moved": lambda event, me: None,  # bookkeeping between one's own sessions
    **EVENT_LINES,  # comments, join requests, scheduled messages, bans
}


def event_line(event: Event, me: str) -> str | None:
    """The line to show for an event, or None for events people need not see."""
    if event.message is not None:
        return message_line(event.message, me)
    render = _EVENT_LINES.get(event.type)
    if render is None:
        return f"{clock(event.ts)} * {event.type}"
    line = render(event, me)
    return None if line is None else f"{clock(event.ts)} {_printable(line)}"


def room_lines(rooms: Iterable[Room], me: str) -> list[str]:
    """One line per room: label, kind, unread count, members."""
    lines = []
    for room in rooms:
        unread = f"{room.unread} unread" if room.unread else "-"
        name = f" ({room.name})" if room.kind == "group" else ""
        members = ", ".join(room.members)
        lines.append(f"{room_label(room.id, me)}{name}  {room.kind}  {unread}  members: {members}")
    return lines


def status_lines(status: Status, server: str) -> list[str]:
    """What `chat status` shows."""
    unread = sum(room.unread or 0 for room in status.rooms)
    return [
        f"{status.user} on {server} (log {status.log})",
        f"offset {status.offset}, cursor {status.cursor}, {unread} unread",
        f"online: {', '.join(status.online) or '-'}",
        f"rooms: {', '.join(room_label(r.id, status.user) for r in status.rooms) or '-'}",
        f"open sessions: {len(status.sessions)}",
    ]


def json_line(obj: Mapping[str, Any] | list[Any]) -> str:
    """Compact JSON on one line, non-ASCII kept as is."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
