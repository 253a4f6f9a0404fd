"""How a feature declares its `chat` subcommands, and the argument types they share.

A feature lists each of its subcommands as a `Subcommand`: its name, the
line `chat --help` shows for it, the rest of its own `--help`, a function
that adds its arguments, and one that turns the parsed arguments into the
coroutine to run. `client.cli` registers them all on one parser, in the
order `chat --help` lists them, and runs the one named on the command line.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, TextIO

from attrs import field, frozen

from client.context import Context
from client.state import PROFILE_PATTERN

__all__ = [
    "Run",
    "SubParsers",
    "Subcommand",
    "common_options",
    "message_id",
    "poll_seconds",
    "positionals",
    "positive",
    "register",
    "target_options",
    "text_argument",
]

SubParsers = Any  # argparse's `_SubParsersAction` is private
Run = Callable[[argparse.Namespace, Context, TextIO], Coroutine[Any, Any, int]]


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    pass


@frozen(kw_only=True)
class Subcommand:
    """One `chat` subcommand: its help, its arguments, and what it runs.

    `run` gets the parsed arguments, the context and standard input (for
    `-` as a text, and passwords); it raises UsageError for arguments that
    parse but make no sense.
    """

    name: str
    summary: str  # its line in `chat --help`: lower case, no full stop
    details: str  # the rest of the description in its own --help
    run: Run
    arguments: Callable[[argparse.ArgumentParser], None] = field(default=_no_arguments)


def positive(text: str) -> int:
    """An argument type: a positive integer."""
    if not text.isdecimal() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, not {text!r}")
    return int(text)


def poll_seconds(text: str) -> float:
    """An argument type: seconds, more than 0 and at most 60."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, not {text!r}") from None
    if not 0 < value <= 60:
        raise argparse.ArgumentTypeError("between 0 and 60 seconds")
    return value


def message_id(text: str) -> int:
    """An argument type: a message (or scheduled message) id, `#` allowed in front."""
    text = text.removeprefix("#")
    if not (text.isascii() and text.isdecimal()) or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a message id (a positive number), not {text!r}")
    return int(text)


def _profile(text: str) -> str:
    if PROFILE_PATTERN.fullmatch(text) is None:
        raise argparse.ArgumentTypeError("1-64 of A-Z a-z 0-9 _ . -")
    return text


def common_options(*, inherited: bool) -> argparse.ArgumentParser:
    """The options of every subcommand (--profile, --timeout, --json), as a parent parser.

    They are accepted before and after the subcommand; a subcommand's copy
    (`inherited`) must not overwrite a value given before it, hence SUPPRESS.
    """
    default = argparse.SUPPRESS if inherited else None
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--profile",
        type=_profile,
        default=default or "default",
        help="which stored session to use (default: default)",
    )
    parent.add_argument(
        "--timeout",
        type=poll_seconds,
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
    parent.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default=default or "auto",
        help="colour the output: auto (on a terminal, unless NO_COLOR is set), always, never",
    )
    parent.add_argument(
        "--no-bell",
        dest="bell",
        action="store_false",
        default=default or True,
        help="no bell or notification on a direct message or a mention",
    )
    return parent


def register(sub: SubParsers, subcommands: Iterable[Subcommand]) -> None:
    """Add `subcommands` to `sub` (what `add_subparsers` returned), in order."""
    parents = [common_options(inherited=True)]
    for subcommand in subcommands:
        summary = subcommand.summary
        parser: argparse.ArgumentParser = sub.add_parser(
            subcommand.name,
            parents=parents,
            help=summary,
            description=f"{summary[0].upper()}{summary[1:]}. {subcommand.details}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        subcommand.arguments(parser)


def positionals(*names: str) -> Callable[[argparse.ArgumentParser], None]:
    """The `arguments` of a subcommand that takes only these, each shown in capitals."""

    def arguments(parser: argparse.ArgumentParser) -> None:
        for name in names:
            parser.add_argument(name, metavar=name.upper())

    return arguments


def target_options(parser: argparse.ArgumentParser, what: str) -> None:
    """`--room R` or `--to USER`: where to send what the subcommand sends."""
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--room", help=f"room id or @user to {what} to (default: general)")
    target.add_argument("--to", metavar="USER", help=f"{what} directly to USER")


def text_argument(words: list[str], stdin: TextIO) -> str:
    """The words of a TEXT argument joined with spaces; `-` alone reads standard input."""
    if words == ["-"]:
        return stdin.read().rstrip("\n")
    return " ".join(words)
