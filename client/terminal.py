"""Text for the terminal: what other users wrote is filtered before it is shown.

How this works: names, texts, room names and file names come from other
users, and a control character among them could move the cursor, clear the
screen or retitle the terminal. Every line a feature builds from them goes
through `printable` (an event line as a whole, in `client.polling`). The
other helpers say rooms and times the same way in every feature; a room is
written as its id, or `@bob` for the direct room with bob, both on the
screen (`room_label`) and on the command line (`room_id`).
"""

from __future__ import annotations

import json
import time
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any, Final

__all__ = [
    "DIRECT_PREFIX",
    "EventLines",
    "clock",
    "direct_room",
    "json_line",
    "printable",
    "room_id",
    "room_label",
    "when",
]

DIRECT_PREFIX: Final = "dm:"
# Event type -> the line for an event's fields (without the clock), or None to show nothing.
EventLines = Mapping[str, Callable[[Mapping[str, Any], str], str | None]]


def printable(text: str) -> str:
    """`text` without control characters (they could move the cursor), newlines kept."""
    return "".join("\ufffd" if c != "\n" and unicodedata.category(c) == "Cc" else c for c in text)


def room_label(room: str, me: str) -> str:
    """`general`, `g42`, or `@bob` for the direct room of `me` and bob."""
    if room.startswith(DIRECT_PREFIX):
        others = [n for n in room[len(DIRECT_PREFIX) :].split(":") if n != me.casefold()]
        return "@" + (others[0] if others else me.casefold())
    return room


def direct_room(me: str, other: str) -> str:
    """The id of the direct room of two users (names casefolded and sorted)."""
    first, second = sorted((me.casefold(), other.casefold()))
    return f"{DIRECT_PREFIX}{first}:{second}"


def room_id(room: str, me: str) -> str:
    """A room as typed: `@bob` is the direct room with bob; anything else is an id."""
    return direct_room(me, room[1:]) if room.startswith("@") and len(room) > 1 else room


def clock(ts: float) -> str:
    """Local time of day, `HH:MM`."""
    return time.strftime("%H:%M", time.localtime(ts))


def when(ts: float, now: float | None = None) -> str:
    """`14:05` today, `2026-11-24 14:05` on another day (local time)."""
    local = time.localtime(ts)
    today = time.localtime(time.time() if now is None else now)
    if local[:3] == today[:3]:
        return time.strftime("%H:%M", local)
    return time.strftime("%Y-%m-%d %H:%M", local)


def json_line(obj: Mapping[str, Any] | list[Any]) -> str:
    """Compact JSON on one line, non-ASCII kept as is (what `--json` prints)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
