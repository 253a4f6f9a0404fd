"""What every command runs with: the profile, the output streams, the exit statuses.

A command of any feature takes a `Context`, does one thing and returns its
exit status; the server's refusals propagate as `ApiError` and become exit 1
in `client.cli` (and a notice in interactive mode). Everything a command
prints goes through `say` and `notice`, which make it safe for a terminal
(`client.terminal.terminal_safe`); only `ring` writes a bell.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Final, TextIO, TypeVar

from attrs import define

from client.api import Api
from client.display import Display, notification
from client.http import HttpClient, Origin
from client.retry import retrying
from client.state import Session, StateError, StateStore
from client.terminal import terminal_safe

__all__ = [
    "EXIT_OK",
    "EXIT_REFUSED",
    "EXIT_UNREACHABLE",
    "EXIT_USAGE",
    "Context",
    "UsageError",
    "new_idempotency_key",
    "session_api",
    "until_interrupted",
]

EXIT_OK: Final = 0
EXIT_REFUSED: Final = 1  # the server said no (or the session file is broken)
EXIT_USAGE: Final = 2
EXIT_UNREACHABLE: Final = 3
T = TypeVar("T")
A = TypeVar("A", bound=Api)


class UsageError(Exception):
    """The command cannot run as asked (not connected, bad server URL, ...)."""


@define(kw_only=True)
class Context:
    """What every command needs: the profile's session file and the output streams."""

    store: StateStore
    out: TextIO
    err: TextIO
    json: bool = False
    timeout_s: float = 10.0
    # One-shot commands try this often when the network fails, then exit 3.
    attempts: int = 4
    color: bool = False  # colour the lines (see `client.display`)
    bell: bool = False  # ring on a direct message or a mention (watch, interactive)
    osc9: bool = False  # ... with a desktop notification the terminal shows
    slash: bool = False  # run from interactive mode: hints name slash commands

    def say(self, line: str) -> None:
        """A line of output (stdout), made safe for a terminal."""
        print(terminal_safe(line), file=self.out, flush=True)

    def notice(self, line: str) -> None:
        """A line for the human (stderr), never mixed into the output."""
        print(f"chat: {terminal_safe(line)}", file=self.err, flush=True)

    def ring(self, summary: str) -> None:
        """Ring the terminal (and show `summary` as a notification where it can), if wanted."""
        if self.bell and not self.json:
            self.out.write(notification(summary, osc9=self.osc9))
            self.out.flush()

    def display(self, user: str) -> Display:
        """How lines look for `user` in this command (rooms are learnt as they come)."""
        return Display(me=user, color=self.color and not self.json)

    def command(self, words: str) -> str:
        """How to type a command here: `chat cancel 12`, or `/cancel 12` in interactive mode."""
        return f"/{words}" if self.slash else f"chat {words}"

    def load(self) -> Session:
        """The profile's session.

        Raises UsageError when the profile is not connected, StateError when
        its file is broken.
        """
        session = self.store.load()
        if session is None:
            raise UsageError(
                f"profile {self.store.profile!r} is not connected; "
                "run `chat connect NAME [--server URL]` first"
            )
        return session

    async def retry(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """`attempt` with a few retries on network errors (one-shot commands)."""
        return await retrying(attempt, self.notice, max_attempts=self.attempts)


@asynccontextmanager
async def session_api(ctx: Context, session: Session, kind: type[A]) -> AsyncIterator[A]:
    """An authenticated API client of `kind` for the stored session.

    Raises StateError when the stored server URL is invalid.
    """
    try:
        origin = Origin.parse(session.server)
    except ValueError as exc:
        raise StateError(f"the stored server URL is invalid: {exc}") from exc
    async with HttpClient(origin, timeout_s=ctx.timeout_s) as http:
        yield kind(http, session.token)


def new_idempotency_key() -> str:
    """A random key for one message to send (reused by every retry of it)."""
    return secrets.token_hex(16)


async def until_interrupted(work: Awaitable[None]) -> bool:
    """Run `work` until it ends or SIGINT/SIGTERM arrives; True when interrupted.

    Raises whatever `work` raises.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(work)
    stop = asyncio.Event()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        stopper.cancel()
        task.cancel()
        await asyncio.gather(stopper, return_exceptions=True)
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return stop.is_set()
