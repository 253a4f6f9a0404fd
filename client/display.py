"""How lines look: room names, colours, mentions, and when to ring.

How this works: a `Display` is what one command knows about showing things
to its user: who they are, the names of their rooms (a group room by its
name, a direct room by the other user's name as that user writes it), and
whether to colour. Every feature builds its lines from these pieces, so a
room, an author or a mention looks the same everywhere.

Colours (SGR sequences) are used only when `color` is on: on a terminal,
unless `NO_COLOR` is set, or when `--color=always` asks for them
(`color_wanted`). Authors get a colour of their own (the same name, the
same colour, every time), one's own name is bold, direct rooms are
magenta, lines about rooms and schedules (`*`) are dim, and a mention of
the user (`@name`) is reversed. `wants_alert` says which messages ring:
a direct message or a mention, from someone else.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from attrs import define, field

from client.terminal import DIRECT_PREFIX, printable, room_label

__all__ = ["COLOR_MODES", "Display", "EventLines", "color_wanted", "notification", "osc9_supported"]

COLOR_MODES: Final = ("auto", "always", "never")
_RESET: Final = "\x1b[0m"
_BOLD: Final = "1"
_DIM: Final = "2"
_REVERSE: Final = "7"
_MAGENTA: Final = "35"
_CYAN: Final = "36"
# Author colours: readable on dark and light backgrounds (no white, black or blue).
_AUTHOR_COLOURS: Final = ("32", "33", "35", "36", "91", "92", "93", "95", "96")
_MENTION: Final = re.compile(r"(?<![\w@])@([\w.\-]+)")


def color_wanted(mode: str, *, isatty: bool, environ: Mapping[str, str]) -> bool:
    """Whether to colour: `always`, `never`, or on a terminal without `NO_COLOR` (`auto`)."""
    if mode == "always":
        return True
    if mode == "never":
        return False
    return isatty and not environ.get("NO_COLOR") and environ.get("TERM") != "dumb"


def osc9_supported(environ: Mapping[str, str]) -> bool:
    """Whether the terminal shows `ESC ] 9 ; text BEL` as a desktop notification.

    iTerm2, WezTerm and Ghostty (by `TERM_PROGRAM`) and Windows Terminal (by
    `WT_SESSION`) do; inside tmux the sequence would not reach them, and
    other terminals might print it, so there only the bell rings.
    """
    if environ.get("TMUX"):
        return False
    program = environ.get("TERM_PROGRAM", "")
    return program in ("iTerm.app", "WezTerm", "ghostty") or bool(environ.get("WT_SESSION"))


def notification(summary: str, *, osc9: bool) -> str:
    """What rings the terminal: the bell, and the OSC 9 notification where it is shown."""
    if not osc9:
        return "\a"
    return f"\x1b]9;{printable(summary).replace(chr(0xFFFD), ' ')[:200]}\x07\a"


@define(kw_only=True)
class Display:
    """Who the user is, what their rooms are called, and whether to colour."""

    me: str
    color: bool = False
    room_names: dict[str, str] = field(factory=dict)  # group room id -> name
    names: dict[str, str] = field(factory=dict)  # name key -> the spelling its owner uses

    def learn_room(self, room: str, name: str, kind: str, members: Iterable[str] = ()) -> None:
        """Remember what a room is called and how its members write their names."""
        if kind == "group":
            self.room_names[room] = name
        for member in members:
            self.learn_name(member)

    def learn_name(self, name: str) -> None:
        """Remember how a user writes their name."""
        self.names.setdefault(name.casefold(), name)

    def spelled(self, name: str) -> str:
        """A user's name as they write it (as far as this display knows)."""
        return self.names.get(name.casefold(), name)

    def label(self, room: str) -> str:
        """`general`, a group room's name (its id when unknown), `@Иван` for a direct room."""
        if room.startswith(DIRECT_PREFIX):
            return "@" + self.spelled(room_label(room, self.me)[1:])
        return self.room_names.get(room, room)

    # -- pieces of lines -------------------------------------------------------------

    def paint(self, text: str, *codes: str) -> str:
        """`text` (already printable) in these SGR attributes, when colouring."""
        if not self.color or not codes or not text:
            return text
        return f"\x1b[{';'.join(codes)}m{text}{_RESET}"

    def room(self, room: str) -> str:
        """`[label]`, magenta for a direct room."""
        shown = f"[{printable(self.label(room))}]"
        return self.paint(shown, _MAGENTA) if room.startswith(DIRECT_PREFIX) else shown

    def author(self, name: str) -> str:
        """An author's name: bold for the user, else in the name's own colour."""
        shown = printable(self.spelled(name))
        if name.casefold() == self.me.casefold():
            return self.paint(shown, _BOLD)
        return self.paint(shown, _author_colour(name))

    def faint(self, text: str) -> str:
        """Ids, times and other things to read past."""
        return self.paint(text, _DIM)

    def system(self, line: str) -> str:
        """A line about rooms, schedules, bans (not a message)."""
        return self.paint(line, _DIM)

    def emphasis(self, text: str) -> str:
        return self.paint(text, _CYAN)

    def text(self, text: str) -> str:
        """A message's text, printable, with mentions of the user reversed and others bold."""
        safe = printable(text)
        if not self.color:
            return safe
        me = self.me.casefold()

        def mark(match: re.Match[str]) -> str:
            mentioned = match[1].rstrip(".-").casefold()
            return self.paint(match[0], _REVERSE if mentioned == me else _BOLD)

        return _MENTION.sub(mark, safe)

    def mentions_me(self, text: str) -> bool:
        """Whether `text` names the user as `@name`."""
        me = self.me.casefold()
        return any(m.rstrip(".-").casefold() == me for m in _MENTION.findall(text))

    def wants_alert(self, *, room: str, author: str, text: str) -> bool:
        """A message that should ring: a direct message or a mention, not from the user."""
        if author.casefold() == self.me.casefold():
            return False
        return room.startswith(DIRECT_PREFIX) or self.mentions_me(text)


# Event type -> the line for an event's fields (without the clock), or None to show nothing.
EventLines = Mapping[str, Callable[[Mapping[str, Any], Display], str | None]]


def _author_colour(name: str) -> str:
    digest = zlib.crc32(name.casefold().encode("utf-8"))
    return _AUTHOR_COLOURS[digest % len(_AUTHOR_COLOURS)]
