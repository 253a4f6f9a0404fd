"""Text for the terminal: what other users wrote is made harmless before it is shown.

How this works: names, texts, room names and file names come from other
users, and some characters among them would act on the terminal instead of
being shown: control characters (C0, DEL, C1) could move the cursor, clear
the screen or retitle the window; bidirectional overrides and isolates
(U+202A-U+202E, U+2066-U+2069) could make a line read backwards (a file
name `exe.txt` that is `txt.exe`); line and paragraph separators (U+2028,
U+2029) break lines where no one expects. `printable` replaces each of them
with U+FFFD (newlines kept: texts have lines); every line a feature builds
from other users' text goes through it. As a second guard, `Context.say`
and `notice` pass every line through `terminal_safe`, which does the same
to anything but the colour sequences this client writes itself (SGR,
`ESC [ ... m`). `json_line` writes those characters as `\\uXXXX` escapes,
so `--json` output is plain text too.

The other helpers say rooms, times, sizes and waits the same way in every
feature; a room is typed as its id, `@bob` for the direct room with bob, or
its name (`client.room_book`).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from typing import Any, Final

__all__ = [
    "DIRECT_PREFIX",
    "clock",
    "direct_room",
    "json_line",
    "printable",
    "room_id",
    "room_label",
    "size_text",
    "terminal_safe",
    "wait_text",
    "when",
]

DIRECT_PREFIX: Final = "dm:"

_BIDI_AND_SEPARATORS: Final = "\u202a-\u202e\u2066-\u2069\u2028\u2029"
# Characters that act on a terminal: C0 but newline, DEL, C1, bidi controls, separators.
_UNSAFE: Final = re.compile(f"[\x00-\x09\x0b-\x1f\x7f-\x9f{_BIDI_AND_SEPARATORS}]")
# The same, newline included, outside this client's own colour sequences.
_OUR_SGR: Final = re.compile(r"(\x1b\[[0-9;]*m)")
# What json.dumps(ensure_ascii=False) leaves raw (it escapes C0 itself).
_UNSAFE_IN_JSON: Final = re.compile(f"[\x7f-\x9f{_BIDI_AND_SEPARATORS}]")
_REPLACEMENT: Final = "\ufffd"


def printable(text: str) -> str:
    """`text` with what would act on a terminal replaced by U+FFFD (newlines kept)."""
    return _UNSAFE.sub(_REPLACEMENT, text)


def terminal_safe(line: str) -> str:
    """A line to write: `printable`, but this client's own colour sequences kept."""
    parts = _OUR_SGR.split(line)
    return "".join(part if i % 2 else printable(part) for i, part in enumerate(parts))


def room_label(room: str, me: str) -> str:
    """`general`, `g42`, or `@bob` for the direct room of `me` and bob (ids only).

    `Display.label` names rooms better when it knows them (a group room's
    name, the other user's name as they write it).
    """
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
    """`14:05` today, `Tue 14:05` within the week around today, else `2026-11-24 14:05`."""
    local = time.localtime(ts)
    current = time.time() if now is None else now
    if local[:3] == time.localtime(current)[:3]:
        return time.strftime("%H:%M", local)
    if abs(current - ts) < 6 * 86400:
        return time.strftime("%a %H:%M", local)
    return time.strftime("%Y-%m-%d %H:%M", local)


def wait_text(seconds: float) -> str:
    """A wait as a person reads it: `45 s`, `3 min`, `2 h 5 min` (as the server says it)."""
    whole = max(1, round(seconds))
    if whole < 60:
        return f"{whole} s"
    minutes = round(whole / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def size_text(count: float) -> str:
    """A byte count for people: `512 B`, `3.4 KiB`, `1.2 MiB`."""
    for unit in ("B", "KiB", "MiB"):
        if count < 1024 or unit == "MiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


def json_line(obj: Mapping[str, Any] | list[Any]) -> str:
    """Compact JSON on one line, non-ASCII kept, characters that act on terminals escaped."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m[0]):04x}", text)
