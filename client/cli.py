"""`chat`: the command-line client (interactive without a subcommand)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Coroutine, Sequence
from typing import Any, Final, TextIO

from client import commands, interactive, social_cli
from client.api import ApiError
from client.commands import (
    EXIT_REFUSED,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    Context,
    UsageError,
)
from client.http import HttpClientError, NetworkError
from client.state import PROFILE_PATTERN, StateError, StateStore, state_dir

__all__ = ["build_parser", "main"]

DEFAULT_SERVER: Final = "http://127.0.0.1:8000"
MAX_HISTORY: Final = 500

DESCRIPTION: Final = """\
Chat from the terminal. Without a subcommand, on a terminal: interactive mode
(type to send to the current room, /help for commands). The subcommands each
do one thing and exit, for scripts.

exit status: 0 ok, 1 the server said no, 2 usage (or not connected),
3 cannot reach the server.

environment: CHAT_HOME (where sessions are kept, default ~/.config/chat),
CHAT_SERVER (default server URL for connect)."""

EPILOG: Final = """\
example:
  chat connect alice --server http://127.0.0.1:8000
  chat send 'hello everyone'
  chat send --to bob 'hi bob'
  chat watch --json
  chat"""


def _positive(text: str) -> int:
    if not text.isdecimal() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, not {text!r}")
    return int(text)


def _limit(text: str) -> int:
    value = _positive(text)
    if value > MAX_HISTORY:
        raise argparse.ArgumentTypeError(f"at most {MAX_HISTORY}")
    return value


def _poll_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, not {text!r}") from None
    if not 0 < value <= 60:
        raise argparse.ArgumentTypeError("between 0 and 60 seconds")
    return value


def _profile(text: str) -> str:
    if PROFILE_PATTERN.fullmatch(text) is None:
        raise argparse.ArgumentTypeError("1-64 of A-Z a-z 0-9 _ . -")
    return text


def _common(suppress: bool) -> argparse.ArgumentParser:
    # Accepted before and after the subcommand; the subcommand's copy must not
    # overwrite a value given before it, hence SUPPRESS there.
    default = argparse.SUPPRESS if suppress else None
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--profile",
        type=_profile,
        default=default or "default",
        help="which stored session to use (default: default)",
    )
    parent.add_argument(
        "--timeout",
        type=_poll_seconds,
        default=default or 10.0,
        metavar="SECONDS",
        help="deadline of each request to the server (default 10)",
    )
    parent.add_argument(
        "--json",
        action="store_true",
        default=default or False,
        help="machine-readable output (one JSON object per line)",
    )
    return parent


def build_parser() -> argparse.ArgumentParser:
    """The `chat` argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="chat",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[_common(suppress=False)],
    )
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND")
    common = [_common(suppress=True)]

    def add(name: str, summary: str, details: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            parents=common,
            help=summary,
            description=f"{summary[0].upper()}{summary[1:]}. {details}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    connect = add(
        "connect",
        "log in (registering NAME on first use)",
        "The session is kept in\n$CHAT_HOME/PROFILE.json (mode 0600). Shows the last messages of\n"
        "general and your unread ones. The password is asked without echo.",
    )
    connect.add_argument("name", metavar="NAME")
    connect.add_argument(
        "--server",
        default=os.environ.get("CHAT_SERVER", DEFAULT_SERVER),
        help="server URL (default: $CHAT_SERVER or %(default)s)",
    )
    connect.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of stdin instead of asking",
    )

    send = add(
        "send",
        "send one message",
        "To general, to --room R, or --to USER as a direct\n"
        "message. Words are joined with spaces. A failed attempt is retried with the\n"
        "same Idempotency-Key, so the message is sent once.",
    )
    target = send.add_mutually_exclusive_group()
    target.add_argument("--room", help="room id (default: general)")
    target.add_argument("--to", metavar="USER", help="send a direct message to USER")
    send.add_argument("text", nargs="+", metavar="TEXT", help="the message ('-': read stdin)")

    history = add(
        "history",
        "recent messages of a room",
        "Oldest first; with --json, the server's page\n(newest first, with next_before).",
    )
    which = history.add_mutually_exclusive_group()
    which.add_argument("--room", default="general", help="room id (default: general)")
    which.add_argument("--to", metavar="USER", help="the direct room with USER")
    history.add_argument(
        "--limit", type=_limit, default=20, help="how many messages (default 20, max 500)"
    )
    history.add_argument(
        "--before", type=_positive, metavar="ID", help="only messages older than message ID"
    )

    add(
        "status",
        "who you are, cursor, who is online",
        "Also the unread count, your open\nsessions, and how far this profile has read.",
    )
    rooms = add("rooms", "your rooms with unread counts", "With each room's kind and members.")
    social_cli.add_subcommands(sub, common, rooms=rooms)

    watch = add(
        "watch",
        "print events as they arrive (Ctrl-C stops)",
        "From where this profile left\n"
        "off; the position is saved as events are printed, so the next run resumes\n"
        "without duplicates or gaps. With --json, one event object per line.",
    )
    watch.add_argument(
        "--poll", type=_poll_seconds, default=25.0, help="long-poll timeout in seconds"
    )
    watch.add_argument("--count", type=_positive, default=None, help="exit after this many events")

    add(
        "disconnect",
        "log out and forget the session",
        "Revokes this profile's token on the\nserver and deletes its session file.",
    )
    return parser


def _read_password(args: argparse.Namespace, stdin: TextIO) -> str:
    if args.password_stdin:
        line = stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    if not stdin.isatty():
        raise UsageError("no terminal to ask for the password; use --password-stdin")
    return getpass.getpass(f"password for {args.name}: ")


def _text(args: argparse.Namespace, stdin: TextIO) -> str:
    words: list[str] = args.text
    if words == ["-"]:
        return stdin.read().rstrip("\n")
    return " ".join(words)


def _command(args: argparse.Namespace, ctx: Context, stdin: TextIO) -> Coroutine[Any, Any, int]:
    more = social_cli.command_for(args, ctx, stdin)
    if more is not None:
        return more
    match args.command:
        case None:
            return interactive.run(ctx)
        case "connect":
            password = _read_password(args, stdin)
            return commands.connect(ctx, name=args.name, password=password, server=args.server)
        case "send":
            return commands.send(ctx, text=_text(args, stdin), room=args.room, to=args.to)
        case "history":
            return commands.history(
                ctx, room=args.room, to=args.to, limit=args.limit, before=args.before
            )
        case "status":
            return commands.status(ctx)
        case "rooms":
            return commands.rooms(ctx)
        case "watch":
            return commands.watch(ctx, poll_s=args.poll, count=args.count)
        case "disconnect":
            return commands.disconnect(ctx)
    raise UsageError(f"unknown subcommand {args.command}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run `chat`; returns the exit status."""
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
    )
    if args.command is None and not (stdin.isatty() and stdout.isatty()):
        parser.print_usage(stderr)
        ctx.notice("interactive mode needs a terminal; scripts use the subcommands (--help)")
        return EXIT_USAGE
    coroutine: Coroutine[Any, Any, int] | None = None
    try:
        coroutine = _command(args, ctx, stdin)
        return asyncio.run(coroutine)
    except UsageError as exc:
        ctx.notice(str(exc))
        return EXIT_USAGE
    except ApiError as exc:
        hint = "; run `chat connect NAME` again" if exc.code == "unauthorized" else ""
        ctx.notice(f"{exc.message}{hint}")
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
    except KeyboardInterrupt:
        return 130  # 128 + SIGINT, as shells report it
    except BrokenPipeError:
        # The reader of our output went away (`chat watch | head`): not an error.
        _silence_stdout()
        return 0
    finally:
        if coroutine is not None:
            coroutine.close()  # never started when asyncio.run was not reached


def _silence_stdout() -> None:
    # Python flushes stdout at exit; with the pipe gone that would print an error.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
