"""`chat`: the command-line client (interactive without a subcommand).

The entry point: one parser assembled from the subcommands the features
declare (`SUBCOMMANDS`, in the order `chat --help` lists them), the one
named on the command line run, and what goes wrong turned into one line on
stderr and the documented exit status.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from typing import Final

from client import (
    edits,
    files,
    identity,
    interactive,
    messages,
    moderation,
    polling,
    privacy,
    rooms,
    rooms_joining,
    schedule,
)
from client.api import ApiError, refusal_text
from client.context import EXIT_REFUSED, EXIT_UNREACHABLE, EXIT_USAGE, Context, UsageError
from client.display import color_wanted, osc9_supported
from client.http import HttpClientError, NetworkError
from client.state import StateError, StateStore, state_dir
from client.subcommand import Subcommand, common_options, register

__all__ = ["SUBCOMMANDS", "build_parser", "main", "run"]

# Every subcommand, in the order `chat --help` lists them.
SUBCOMMANDS: Final[tuple[Subcommand, ...]] = (
    identity.CONNECT,
    messages.SEND,
    messages.HISTORY,
    identity.STATUS,
    rooms.ROOMS,
    rooms_joining.JOIN,
    rooms_joining.REQUESTS,
    rooms_joining.APPROVE,
    rooms_joining.REJECT,
    rooms.LEAVE,
    messages.COMMENT,
    messages.COMMENTS,
    edits.EDIT,
    edits.DELETE,
    edits.SEARCH,
    moderation.REPORT,
    privacy.BLOCK,
    privacy.UNBLOCK,
    privacy.BLOCKED,
    schedule.SCHEDULE,
    schedule.SCHEDULED,
    schedule.CANCEL,
    files.UPLOAD,
    files.DOWNLOAD,
    polling.WATCH,
    privacy.SESSIONS,
    privacy.LOGOUT_SESSION,
    identity.DISCONNECT,
)
_BY_NAME: Final = {subcommand.name: subcommand for subcommand in SUBCOMMANDS}

DESCRIPTION: Final = """\
Chat from the terminal. Without a subcommand, on a terminal: interactive mode
(type to send to the current room, /help for commands). The subcommands each
do one thing and exit, for scripts.

exit status: 0 ok, 1 the server said no, 2 usage (or not connected),
3 cannot reach the server.

environment: CHAT_HOME (where sessions are kept, default ~/.config/chat),
CHAT_SERVER (default server URL for a new profile), NO_COLOR (no colours)."""

EPILOG: Final = """\
example:
  chat connect alice --server http://127.0.0.1:8000
  chat send 'hello everyone'
  chat send --to bob 'hi bob'
  chat watch --json
  chat"""


def build_parser() -> argparse.ArgumentParser:
    """The `chat` argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="chat",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common_options(inherited=False)],
    )
    register(parser.add_subparsers(dest="command", metavar="SUBCOMMAND"), SUBCOMMANDS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run `chat`; returns the exit status."""
    try:
        return asyncio.run(run(argv))
    except KeyboardInterrupt:
        return 130  # 128 + SIGINT, as shells report it
    except BrokenPipeError:
        # The reader of our output went away (`chat watch | head`): not an error.
        _silence_stdout()
        return 0


async def run(argv: Sequence[str] | None = None) -> int:
    """Run `chat` on the running event loop (standard streams as in `sys`); the exit status.

    Raises KeyboardInterrupt and BrokenPipeError, which `main` turns into exit statuses.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already printed
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    stdin, stdout, stderr = sys.stdin, sys.stdout, sys.stderr
    ctx = Context(
        store=StateStore(state_dir(), args.profile),
        out=stdout,
        err=stderr,
        json=args.json,
        timeout_s=args.timeout,
        color=color_wanted(args.color, isatty=stdout.isatty(), environ=os.environ),
        bell=args.bell and stdout.isatty(),
        osc9=osc9_supported(os.environ),
    )
    if args.command is None and not (stdin.isatty() and stdout.isatty()):
        parser.print_usage(stderr)
        ctx.notice("interactive mode needs a terminal; scripts use the subcommands (--help)")
        return EXIT_USAGE
    try:
        if args.command is None:
            return await interactive.run(ctx)
        return await _BY_NAME[args.command].run(args, ctx, stdin)
    except UsageError as exc:
        ctx.notice(str(exc))
        return EXIT_USAGE
    except ApiError as exc:
        hint = "; run `chat connect NAME` again" if exc.code == "unauthorized" else ""
        ctx.notice(f"{refusal_text(exc)}{hint}")
        return EXIT_REFUSED
    except NetworkError as exc:
        ctx.notice(str(exc))
        return EXIT_UNREACHABLE
    except HttpClientError as exc:
        ctx.notice(f"the server's answer makes no sense: {exc}")
        return EXIT_UNREACHABLE
    except StateError as exc:
        ctx.notice(str(exc))
        return EXIT_REFUSED


def _silence_stdout() -> None:
    # Python flushes stdout at exit; with the pipe gone that would print an error.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
