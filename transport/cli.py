"""`chat-server`: flags and `CHAT_*` environment variables -> `Settings`, then serve.

Every option is one row of `OPTIONS`, made from the `Settings` field it sets
(which declares its flag, help, unit and bounds: `app.settings.setting`).
The parser follows the field's unit or kind; the environment variable is
derived from the flag (`--max-file-size` -> `CHAT_MAX_FILE_SIZE`); a flag
wins over the environment, the environment over the default in `Settings`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import re
import resource
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, NoReturn

import attrs
from attrs import frozen

from app import MIB, Budget, Setting, Settings, StartupError, setting_of, short_duration
from transport.serve import run_server

__all__ = [
    "OPTIONS",
    "CommandLine",
    "Option",
    "build_parser",
    "configure_logging",
    "main",
    "parse_command_line",
    "parse_duration",
    "parse_size",
    "raise_open_file_limit",
]

_LOGGER = logging.getLogger("transport.cli")

# The policies of the log, by the names the flag takes. `Settings().fsync`
# tells us the enum without importing the event store from the transport.
_FSYNC_POLICY: Final = type(Settings().fsync)
LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR")
MAX_PORT: Final = 65535

_SIZE_UNITS: Final[Mapping[str, int]] = {
    "": 1,
    "b": 1,
    "k": 1024,
    "kib": 1024,
    "kb": 1000,
    "m": MIB,
    "mib": MIB,
    "mb": 1000**2,
    "g": 1024 * MIB,
    "gib": 1024 * MIB,
    "gb": 1000**3,
}
_DURATION_UNITS: Final[Mapping[str, float]] = {
    "": 1.0,
    "ms": 0.001,
    "s": 1.0,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}
# ASCII digits only: `int()` and `float()` also take "1_0", "٣" and "inf".
_QUANTITY: Final = re.compile(r"([0-9]+(?:\.[0-9]+)?)[ \t]*([a-z]*)", re.ASCII | re.IGNORECASE)


def _split_quantity(text: str, what: str) -> tuple[str, str]:
    match = _QUANTITY.fullmatch(text.strip(" \t"))
    if match is None:
        raise argparse.ArgumentTypeError(f"not a {what}: {text!r}")
    return match[1], match[2].lower()


def parse_size(text: str) -> int:
    """A byte count: `1048576`, `512KiB`, `5MiB`, `5M`, `1.5GiB` (K, M, G are binary).

    Raises argparse.ArgumentTypeError for anything else or an unknown unit.
    """
    number, unit = _split_quantity(text, "size")
    multiplier = _SIZE_UNITS.get(unit)
    if multiplier is None:
        units = ", ".join(u for u in _SIZE_UNITS if u)
        raise argparse.ArgumentTypeError(f"unknown size unit {unit!r} (use {units})")
    whole, _, fraction = number.partition(".")
    # Exact integer arithmetic: "1.5GiB" must not pick up float rounding.
    scale = int(10 ** len(fraction))
    return (int(whole) * scale + int(fraction or "0")) * multiplier // scale


def parse_duration(text: str) -> float:
    """Seconds: `3600`, `0.5`, `250ms`, `90s`, `15m`, `4h`, `1d`.

    Raises argparse.ArgumentTypeError for anything else or an unknown unit.
    """
    number, unit = _split_quantity(text, "duration")
    multiplier = _DURATION_UNITS.get(unit)
    if multiplier is None:
        units = ", ".join(u for u in _DURATION_UNITS if u)
        raise argparse.ArgumentTypeError(f"unknown duration unit {unit!r} (use {units})")
    seconds = float(number) * multiplier
    if not math.isfinite(seconds):  # hundreds of digits overflow to inf
        raise argparse.ArgumentTypeError(f"duration too long: {text!r}")
    return seconds


def _integer(text: str) -> int:
    if not re.fullmatch(r"-?[0-9]+", text.strip(" \t"), re.ASCII):
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}")
    return int(text)


def _at_least(parse: Callable[[str], Any], low: float) -> Callable[[str], Any]:
    def check(text: str) -> Any:
        value = parse(text)
        if not (math.isfinite(value) and value >= low):
            raise argparse.ArgumentTypeError(f"must be at least {low:g}: {text!r}")
        return value

    return check


def _at_most(parse: Callable[[str], Any], high: float) -> Callable[[str], Any]:
    def check(text: str) -> Any:
        value = parse(text)
        if not value <= high:
            raise argparse.ArgumentTypeError(f"must be at most {high:g}: {text!r}")
        return value

    return check


def _positive(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    def check(text: str) -> Any:
        value = parse(text)
        if not (math.isfinite(value) and value > 0):
            raise argparse.ArgumentTypeError(f"must be greater than 0: {text!r}")
        return value

    return check


def _port(text: str) -> int:
    value = _integer(text)
    if not 0 <= value <= MAX_PORT:
        raise argparse.ArgumentTypeError(f"port must be 0..{MAX_PORT} (0: any free port): {text}")
    return value


def _host(text: str) -> str:
    if not text or any(c.isspace() for c in text):
        raise argparse.ArgumentTypeError(f"not a host: {text!r}")
    return text


def _fsync(text: str) -> Any:
    try:
        return _FSYNC_POLICY(text.lower())
    except ValueError:
        choices = ", ".join(p.value for p in _FSYNC_POLICY)
        raise argparse.ArgumentTypeError(f"fsync must be one of {choices}: {text!r}") from None


def _log_level(text: str) -> str:
    level = text.upper()
    if level not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(f"log level must be one of {', '.join(LOG_LEVELS)}")
    return level


def _url(text: str) -> str:
    if text and any(c.isspace() for c in text):
        raise argparse.ArgumentTypeError(f"not a URL: {text!r}")
    return text


def _name(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", text):
        raise argparse.ArgumentTypeError(f"a name is 1-64 of A-Z a-z 0-9 _ -: {text!r}")
    return text


_BOOLEANS: Final = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


def _boolean(text: str) -> bool:
    value = _BOOLEANS.get(text.strip().lower())
    if value is None:
        raise argparse.ArgumentTypeError(f"not yes or no: {text!r}")
    return value


def _metrics(text: str) -> str:
    if text in ("api", "off"):
        return text
    host, _, port = text.rpartition(":")
    _host(host.strip("[]") or "-")
    _port(port)
    return text


def _directory(text: str) -> str:
    if not text:
        raise argparse.ArgumentTypeError("the data directory may not be empty")
    return text


@frozen(kw_only=True)
class Option:
    """One flag: where its value goes, how it is parsed, how `--help` explains it."""

    flag: str
    field: str | None  # the `Settings` field; None for options outside Settings
    parse: Callable[[str], Any]
    help: str
    unit: str = ""
    metavar: str | None = None

    @property
    def env(self) -> str:
        """The environment variable that gives this option's default."""
        return "CHAT_" + self.flag.removeprefix("--").replace("-", "_").upper()

    @property
    def dest(self) -> str:
        """The attribute name argparse stores the value under."""
        return self.flag.removeprefix("--").replace("-", "_")


def _budget(text: str) -> Budget:
    try:
        return Budget.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


_KIND_PARSERS: Final[Mapping[str, Callable[[str], Any]]] = {
    "budget": _budget,
    "host": _host,
    "port": _port,
    "path": _directory,
    "fsync": _fsync,
    "url": _url,
    "name": _name,
    "bool": _boolean,
    "metrics": _metrics,
}
_UNIT_PARSERS: Final[Mapping[str, Callable[[str], Any]]] = {
    "s": parse_duration,
    "bytes": parse_size,
}
_KIND_METAVARS: Final = {
    "path": "PATH",
    "fsync": "{always,interval,none}",
    "budget": "BUDGET",
    "url": "URL",
    "name": "NAME",
    "bool": "{yes,no}",
    "metrics": "{api,off,HOST:PORT}",
}


def _option_for(name: str, declared: Setting) -> Option:
    """The flag of one `Settings` field, from what the field declares."""
    parse = _KIND_PARSERS.get(declared.kind) or _UNIT_PARSERS.get(declared.unit, _integer)
    if declared.positive:
        parse = _positive(parse)
    elif declared.minimum is not None:
        parse = _at_least(parse, declared.minimum)
    if declared.maximum is not None:
        parse = _at_most(parse, declared.maximum)
    return Option(
        flag=declared.flag,
        field=name,
        parse=parse,
        help=declared.help,
        unit=declared.unit,
        metavar=_KIND_METAVARS.get(declared.kind),
    )


LOG_LEVEL_OPTION: Final = Option(
    flag="--log-level",
    field=None,
    parse=_log_level,
    help="least severe log messages shown (DEBUG, INFO, WARNING, ERROR)",
    metavar="LEVEL",
)
# Every field of `Settings` declared with `setting(...)` (in its order), and the log level.
OPTIONS: Final[tuple[Option, ...]] = (
    *(
        _option_for(attribute.name, declared)
        for attribute in attrs.fields(Settings)
        if (declared := setting_of(attribute)) is not None
    ),
    LOG_LEVEL_OPTION,
)
DEFAULT_LOG_LEVEL: Final = "INFO"


@frozen(kw_only=True)
class CommandLine:
    """What the command line asks for: the server's settings and the log level."""

    settings: Settings
    log_level: str = DEFAULT_LOG_LEVEL


def _default_of(option: Option) -> Any:
    if option.field is None:
        return DEFAULT_LOG_LEVEL
    return getattr(attrs.fields(Settings), option.field).default


def _shown(value: Any, unit: str) -> str:
    if unit == "s" and isinstance(value, int | float):
        return short_duration(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    shown = getattr(value, "value", value)  # enums by their names on the command line
    if unit == "bytes" and isinstance(value, int) and value % MIB == 0:
        return f"{value // MIB} MiB"
    return f"{shown} {unit}".rstrip()


_METAVARS: Final = {"s": "DURATION", "bytes": "SIZE"}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line instead of argparse's usage block: the usage of twenty
        # options would bury the one thing that went wrong.
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of `chat-server`; every default is in `--help`."""
    parser = _Parser(
        prog="chat-server",
        description="Serve the chat API over HTTP/1.1. Every option can also be set "
        "through the environment variable named after it; a flag wins over the "
        "environment. Durations take a unit (250ms, 90s, 15m, 4h, 1d; seconds without one).",
    )
    for option in OPTIONS:
        default = _shown(_default_of(option), option.unit)
        text = f"{option.help} (default: {default}; env {option.env})"
        parser.add_argument(
            option.flag,
            dest=option.dest,
            type=option.parse,
            default=None,
            metavar=option.metavar
            or _METAVARS.get(option.unit, "N" if option.unit else option.dest.upper()),
            help=text.replace("%", "%%"),
        )
    return parser


def parse_command_line(argv: Sequence[str], env: Mapping[str, str]) -> CommandLine:
    """Flags over `CHAT_*` variables over the defaults, as one `CommandLine`.

    Raises SystemExit(2) after printing one line of usage error to stderr for a
    bad value, whether it came from a flag or from the environment.
    """
    parser = build_parser()
    namespace = parser.parse_args(list(argv))
    values: dict[str, Any] = {}
    log_level = DEFAULT_LOG_LEVEL
    for option in OPTIONS:
        value = getattr(namespace, option.dest)
        if value is None and option.env in env:
            try:
                value = option.parse(env[option.env])
            except argparse.ArgumentTypeError as exc:
                parser.error(f"{option.env}: {exc}")
        if value is None:
            continue
        if option.field is None:
            log_level = value
        else:
            values[option.field] = value
    defaults = Settings()
    poll_max = values.get("poll_timeout_max_s", defaults.poll_timeout_max_s)
    values["poll_timeout_default_s"] = min(defaults.poll_timeout_default_s, poll_max)
    return CommandLine(settings=Settings(**values), log_level=log_level)


class _UtcFormatter(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        moment = datetime.fromtimestamp(record.created, UTC)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def configure_logging(level: str) -> None:
    """Log to stderr as `TIME LEVEL LOGGER MESSAGE`, time in UTC ISO 8601."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_UtcFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


def raise_open_file_limit(wanted: int) -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; return the soft limit in force.

    Every connection holds a descriptor, so `wanted` (the connection cap) is
    compared with the result and a shortfall is logged as a warning.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    unlimited = resource.RLIM_INFINITY
    if hard not in (unlimited, soft):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError) as exc:
            _LOGGER.warning("cannot raise the open-file limit from %d to %d: %s", soft, hard, exc)
        else:
            _LOGGER.info("open-file limit raised from %d to %d", soft, hard)
            soft = hard
    else:
        _LOGGER.info("open-file limit is %s", "unlimited" if soft == unlimited else soft)
    if soft != unlimited and soft < wanted:
        _LOGGER.warning(
            "open-file limit %d is below --max-connections %d: connections past it will fail",
            soft,
            wanted,
        )
    return soft


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chat server until SIGINT or SIGTERM; return the exit status.

    0 after a clean shutdown, 1 when the server cannot start (the data
    directory is locked or its log corrupt, the address is taken), 2 for a
    bad command line.
    """
    command = parse_command_line(sys.argv[1:] if argv is None else argv, os.environ)
    configure_logging(command.log_level)
    # Whatever the server creates (the log, its lock, blobs, snapshots) is its
    # own: the data holds every direct message and the password hashes.
    os.umask(0o077)
    settings = command.settings
    raise_open_file_limit(settings.max_connections)
    try:
        return asyncio.run(run_server(settings))
    except (StartupError, OSError) as exc:
        # A known failure (locked or corrupt data directory, address in use):
        # one line for the operator, no traceback.
        _LOGGER.error("cannot start: %s", exc)  # noqa: TRY400
    except KeyboardInterrupt:
        _LOGGER.warning("interrupted before the server was up")
        return 130
    return 1


if __name__ == "__main__":
    sys.exit(main())
