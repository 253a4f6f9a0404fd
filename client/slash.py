"""Slash commands: interactive mode runs the features' subcommands from its prompt.

How this works: a feature's slash command parses the words typed after its
name and returns the coroutine of the subcommand of the same name, given a
`Context` whose output goes through the screen (lines appear above the
prompt and the half-typed line is drawn again). `bind` collects the
features' commands and wraps each so that a usage error, a refusal or a
network failure becomes a notice: nothing typed ends the session. Where a
room is optional, it is the current room.
"""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from typing import Any, Protocol

from attrs import evolve

from client.api import ApiError, refusal_text
from client.context import Context, UsageError
from client.http import HttpClientError
from client.state import StateError

__all__ = [
    "Command",
    "Screen",
    "ScreenWriter",
    "Shell",
    "SlashCommands",
    "Start",
    "Words",
    "bind",
    "message_ref",
    "parse_id",
    "room_then",
]

# The words after a command's name -> the coroutine of its subcommand.
Start = Callable[[str], Coroutine[Any, Any, int]]
# What interactive mode calls: False when it is time to leave.
Command = Callable[[str], Awaitable[bool]]


class Screen(Protocol):
    """Where interactive mode shows lines."""

    def show(self, line: str) -> None:
        """Print a line above the prompt."""


class Shell(Protocol):
    """What the slash commands use of the interactive session."""

    @property
    def ctx(self) -> Context:
        """The session's context (profile, timeouts)."""

    @property
    def room(self) -> str:
        """The current room."""

    @property
    def screen(self) -> Screen:
        """Where lines are shown."""

    def notice(self, line: str) -> None:
        """Print a status line above the prompt."""

    def newest_message(self) -> int | None:
        """The id of the newest message shown in the current room (for `last`, `^`)."""


# A feature's slash commands, given the screen's context and the session.
SlashCommands = Callable[[Context, Shell], Mapping[str, Start]]


class ScreenWriter(io.StringIO):
    """A text stream that hands each complete line to `emit`."""

    def __init__(self, emit: Callable[[str], None]) -> None:
        super().__init__()
        self.emit = emit
        self._pending = ""

    def write(self, text: str) -> int:
        """Buffer `text`; emit every line it completes."""
        *lines, self._pending = (self._pending + text).split("\n")
        for line in lines:
            self.emit(line)
        return len(text)

    def isatty(self) -> bool:
        """Never a terminal: progress lines would fight the prompt."""
        return False


class Words:
    """The words after a slash command, taken from the front."""

    def __init__(self, text: str) -> None:
        self.rest = text.strip()

    def take(self) -> str:
        """The next word (empty when there is none); `rest` keeps what follows."""
        word, _, self.rest = self.rest.partition(" ")
        self.rest = self.rest.strip()
        return word


def parse_id(text: str, usage: str) -> int:
    """A message or scheduled message id (`#` allowed in front).

    Raises UsageError (saying `usage`) for anything else.
    """
    text = text.removeprefix("#")
    if not (text.isascii() and text.isdecimal()) or int(text) < 1:
        raise UsageError(f"usage: {usage}")
    return int(text)


def message_ref(shell: Shell, text: str, usage: str) -> int:
    """A message id, or `last` / `^` for the newest message shown in the current room.

    Raises UsageError (saying `usage`) for anything else, or when no message was shown.
    """
    if text in ("last", "^"):
        newest = shell.newest_message()
        if newest is None:
            raise UsageError(f"no message shown in this room yet; {usage}")
        return newest
    return parse_id(text, usage)


def room_then(shell: Shell, words: str, usage: str) -> tuple[str, str]:
    """`[room] <arg>`: the room (the current one when left out) and the argument.

    Raises UsageError (saying `usage`) for fewer or more words.
    """
    parts = words.split()
    if len(parts) == 1:
        return shell.room, parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise UsageError(f"usage: {usage}")


def bind(shell: Shell, features: Iterable[SlashCommands]) -> dict[str, Command]:
    """The slash commands of `features`, bound to `shell`, that report every failure."""
    ctx = evolve(
        shell.ctx,
        out=ScreenWriter(shell.screen.show),
        err=ScreenWriter(lambda line: shell.notice(line.removeprefix("chat: "))),
        json=False,
        slash=True,
    )

    def reporting(start: Start) -> Command:
        async def run(words: str) -> bool:
            try:
                await start(words)
            except UsageError as exc:
                shell.notice(str(exc))
            except ApiError as exc:
                shell.notice(refusal_text(exc))
            except (HttpClientError, StateError) as exc:
                shell.notice(str(exc))
            return True

        return run

    starts: dict[str, Start] = {}
    for commands in features:
        starts.update(commands(ctx, shell))
    return {name: reporting(start) for name, start in starts.items()}
