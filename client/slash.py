"""Interactive mode's slash commands for rooms, links, requests, comments, reports,
scheduling and files.

Each command parses its words and runs the same function as the subcommand
of the same name (`client.social`, `client.schedule`, `client.files`), with
a `Context` whose output goes through the screen: lines appear above the
prompt and the half-typed line is drawn again. Where a room is optional, it
is the current room.
"""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, Final, Protocol

from attrs import evolve

from client import files, schedule, social
from client.api import ApiError
from client.commands import Context, UsageError
from client.http import HttpClientError
from client.state import StateError

__all__ = ["HELP", "ScreenWriter", "Shell", "commands"]

HELP: Final = """\
Rooms, links and requests ([room] is the current room when left out):
  /create <name> [--members a,b]   create a group room (you own it)
  /invite [room] <user>            make <user> a member
  /link [room]                     create a join link (prints its token)
  /revoke [room] <token>           revoke a join link
  /join <token>                    ask to join through a link
  /requests [room]                 pending requests to join
  /approve [room] <user>, /reject [room] <user>
  /leave [room]                    leave a room
Messages:
  /comment <id> <text>, /comments <id>
  /schedule <when> <text>          when: 15m, 2h, 1h30m, 14:05 or 2026-11-23T14:05
  /scheduled, /cancel <id>         your pending scheduled messages; cancel one
  /report <user> [reason]          report a user
Files:
  /upload <path>                   send a file to the current room
  /download <id> [path] [--force]  save a message's file"""


class _Screen(Protocol):
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
    def screen(self) -> _Screen:
        """Where lines are shown."""

    def notice(self, line: str) -> None:
        """Print a status line above the prompt."""


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


class _Words:
    """The words after a slash command, taken from the front."""

    def __init__(self, text: str) -> None:
        self.rest = text.strip()

    def take(self) -> str:
        word, _, self.rest = self.rest.partition(" ")
        self.rest = self.rest.strip()
        return word


def _number(text: str, usage: str) -> int:
    text = text.removeprefix("#")
    if not (text.isascii() and text.isdecimal()) or int(text) < 1:
        raise UsageError(f"usage: {usage}")
    return int(text)


def _room_then(shell: Shell, words: str, usage: str) -> tuple[str, str]:
    """`[room] <arg>`: the room (current one when left out) and the argument."""
    parts = words.split()
    if len(parts) == 1:
        return shell.room, parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise UsageError(f"usage: {usage}")


def _when(spec: str) -> float:
    try:
        return schedule.send_time(at=None, after=spec)
    except UsageError:
        return schedule.send_time(at=spec, after=None)


def _path(text: str) -> Path:
    try:
        return Path(text.strip()).expanduser()
    except RuntimeError as exc:  # ~user for a user without a home
        raise UsageError(f"cannot expand {text.strip()!r}: {exc}") from exc


def _with_flag(words: str, flag: str) -> tuple[str, bool]:
    parts = words.split()
    return " ".join(p for p in parts if p != flag), flag in parts


Command = Callable[[str], Awaitable[bool]]


def commands(shell: Shell) -> dict[str, Command]:
    """The slash commands of this module, bound to `shell`."""
    ctx = evolve(
        shell.ctx,
        out=ScreenWriter(shell.screen.show),
        err=ScreenWriter(lambda line: shell.notice(line.removeprefix("chat: "))),
        json=False,
    )

    def runs(make: Callable[[str], Coroutine[Any, Any, int]]) -> Command:
        async def run(words: str) -> bool:
            try:
                await make(words)
            except UsageError as exc:
                shell.notice(str(exc))
            except ApiError as exc:
                shell.notice(exc.message)
            except (HttpClientError, StateError) as exc:
                shell.notice(str(exc))
            return True

        return run

    def create(words: str) -> Coroutine[Any, Any, int]:
        name, _, members = words.partition("--members")
        if not name.strip():
            raise UsageError("usage: /create <name> [--members a,b]")
        return social.create_room(
            ctx, name=name.strip(), members=social.members_list(members.strip())
        )

    def invite(words: str) -> Coroutine[Any, Any, int]:
        room, user = _room_then(shell, words, "/invite [room] <user>")
        return social.invite(ctx, room=room, user=user)

    def revoke(words: str) -> Coroutine[Any, Any, int]:
        room, token = _room_then(shell, words, "/revoke [room] <token>")
        return social.revoke(ctx, room=room, token=token)

    def join(words: str) -> Coroutine[Any, Any, int]:
        if not words.strip():
            raise UsageError("usage: /join <token>")
        return social.join(ctx, link_or_token=words)

    def decide(yes: bool) -> Callable[[str], Coroutine[Any, Any, int]]:
        usage = "/approve [room] <user>" if yes else "/reject [room] <user>"

        def make(words: str) -> Coroutine[Any, Any, int]:
            room, user = _room_then(shell, words, usage)
            return social.approve(ctx, room=room, user=user, yes=yes)

        return make

    def comment(words: str) -> Coroutine[Any, Any, int]:
        parts = _Words(words)
        message = _number(parts.take(), "/comment <id> <text>")
        if not parts.rest:
            raise UsageError("usage: /comment <id> <text>")
        return social.comment(ctx, message=message, text=parts.rest)

    def comments(words: str) -> Coroutine[Any, Any, int]:
        return social.comments(ctx, message=_number(words.strip(), "/comments <id>"))

    def report(words: str) -> Coroutine[Any, Any, int]:
        parts = _Words(words)
        user = parts.take()
        if not user:
            raise UsageError("usage: /report <user> [reason]")
        return social.report(ctx, user=user, reason=parts.rest or None)

    def schedule_(words: str) -> Coroutine[Any, Any, int]:
        parts = _Words(words)
        spec = parts.take()
        if not spec or not parts.rest:
            raise UsageError("usage: /schedule <when> <text>")
        send_at = _when(spec)
        room = None if shell.room == "general" else shell.room
        return schedule.schedule(ctx, text=parts.rest, send_at=send_at, room=room, to=None)

    def cancel(words: str) -> Coroutine[Any, Any, int]:
        return schedule.cancel(ctx, scheduled_id=_number(words.strip(), "/cancel <id>"))

    def upload(words: str) -> Coroutine[Any, Any, int]:
        if not words.strip():
            raise UsageError("usage: /upload <path>")
        return files.upload(ctx, path=_path(words), room=shell.room, to=None)

    def download(words: str) -> Coroutine[Any, Any, int]:
        rest, force = _with_flag(words, "--force")
        parts = _Words(rest)
        message = _number(parts.take(), "/download <id> [path] [--force]")
        output = str(_path(parts.rest)) if parts.rest else None
        return files.download(ctx, message=message, output=output, force=force)

    def in_room(
        run: Callable[..., Coroutine[Any, Any, int]],
    ) -> Callable[[str], Coroutine[Any, Any, int]]:
        return lambda words: run(ctx, room=words.strip() or shell.room)

    table: dict[str, Callable[[str], Coroutine[Any, Any, int]]] = {
        "/create": create,
        "/invite": invite,
        "/link": in_room(social.link),
        "/revoke": revoke,
        "/join": join,
        "/requests": in_room(social.requests),
        "/approve": decide(yes=True),
        "/reject": decide(yes=False),
        "/leave": in_room(social.leave),
        "/comment": comment,
        "/comments": comments,
        "/report": report,
        "/schedule": schedule_,
        "/scheduled": lambda words: schedule.scheduled(ctx),
        "/cancel": cancel,
        "/upload": upload,
        "/download": download,
    }
    return {name: runs(make) for name, make in table.items()}
