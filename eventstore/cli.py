"""`chat-log`: inspect, follow and repair an event log offline.

Every command but `repair` opens the log read-only and takes no lock, so it
can run beside a live server. Exit codes: 0 ok, 1 problems found (or the log
cannot be read), 2 usage. Secrets are never printed in full: a field named
``*_hash`` (``password_hash``, ``token_hash``) or ``salt`` shows its first 8
characters and an ellipsis.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final, TextIO

from eventstore import cli_nats, cli_stream, legacy, recovery
from eventstore.cli_store import segments_report, snapshots_report
from eventstore.errors import EventStoreError
from eventstore.format import DEFAULT_MAX_FRAME_BYTES, FORMAT_VERSION
from eventstore.jetstream import DEFAULT_STREAM
from eventstore.present import (
    USER_FIELDS,
    human_line,
    iso_time,
    json_line,
    json_text,
    mentions_user,
    terminal_safe,
)
from eventstore.reader import LogReader, StoredRecord
from eventstore.records import Record
from eventstore.repair import RepairPlan, repair_directory, repair_log
from eventstore.segment_codec import SEGMENT_VERSION
from eventstore.segment_reader import SegmentLogReader
from eventstore.terminal import StopSignals, progress_printer

DEFAULT_LOG: Final = os.path.join("data", "events.log")
OK: Final = 0
PROBLEMS: Final = 1
INTERRUPTED: Final = 130  # 128 + SIGINT, as shells report it
USAGE: Final = 2
FOLLOW_POLL_S: Final = 0.2


def record_filter(args: argparse.Namespace) -> Callable[[Record], bool]:
    def keep(record: Record) -> bool:
        if args.type and not record.name.startswith(args.type):
            return False
        if args.room is not None and record.data.get("room") != args.room:
            return False
        return args.user is None or mentions_user(record.data, args.user)

    return keep


def _say(text: str, stream: TextIO | None = None) -> None:
    """Print one line, every unsafe character escaped (see `present.terminal_safe`)."""
    print(terminal_safe(text), file=stream or sys.stdout)


# -- opening ------------------------------------------------------------------


Reader = LogReader | SegmentLogReader
Problem = legacy.Problem | recovery.Problem


class _CannotReadError(Exception):
    """A message for stderr and exit code 1."""


def _checked_records(reader: Reader) -> Iterator[StoredRecord]:
    """Every good record, fully decoded, with progress on a terminal."""
    show = progress_printer(sys.stderr, "decoded")
    if show is None:
        yield from reader.records()
        return
    step = max(reader.end // 100, 1)
    mark = step
    for stored in reader.records():
        if stored.position >= mark:
            show(stored.position, reader.end)
            mark = stored.position + step
        yield stored
    show(reader.end, reader.end)


def _open(args: argparse.Namespace, *, progress: bool = False, full: bool = False) -> Reader:
    try:
        reader: Reader = (
            SegmentLogReader(args.log)
            if os.path.isdir(args.log)
            else LogReader(args.log, max_frame_bytes=args.max_frame_bytes)
        )
    except FileNotFoundError:
        raise _CannotReadError(f"chat-log: no log at {args.log}") from None
    except OSError as exc:
        raise _CannotReadError(f"chat-log: cannot open {args.log}: {exc.strerror}") from None
    try:
        reader.scan(progress_printer(sys.stderr, "scanned") if progress else None, full=full)
    except (EventStoreError, OSError) as exc:
        reader.close()
        raise _CannotReadError(f"chat-log: {exc}") from None
    return reader


def _describe(problem: Problem) -> str:
    where = f" in {problem.path}" if isinstance(problem, recovery.Problem) and problem.path else ""
    if problem.kind == "torn":
        return (
            f"torn tail at byte position {problem.position}{where} (offset {problem.offset}): "
            f"{problem.reason}; the server cuts it when it next opens the log "
            "(if it is running, it may be writing that frame right now)"
        )
    return (
        f"corruption at offset {problem.offset} (byte position {problem.position}{where}): "
        f"{problem.reason}; records from here on are not readable; "
        "`chat-log repair` cuts the log here (keeping a backup)"
    )


def _warn_if_corrupt(reader: Reader) -> int:
    if reader.problem is not None and reader.problem.kind == "corrupt":
        _say(f"chat-log: {_describe(reader.problem)}", sys.stderr)
        return PROBLEMS
    return OK


# -- commands -----------------------------------------------------------------


def cmd_verify(args: argparse.Namespace) -> int:
    if args.nats:
        return OK if cli_stream.verify(args.nats, args.stream, sys.stdout) else PROBLEMS
    with _open(args, progress=True, full=True) as reader:
        try:
            for _ in _checked_records(reader):
                pass
        except EventStoreError as exc:
            _say(f"chat-log: {exc}", sys.stderr)
            return PROBLEMS
        summary = (
            f"{args.log}: log id {reader.log_id}, format {_format_of(reader)}, "
            f"{reader.head} records, {reader.end} bytes up to the end of the last good frame"
        )
        if reader.problem is None:
            _say(f"ok: {summary}")
            return OK
        _say(f"problem: {_describe(reader.problem)}")
        _say(f"  ({summary}, {reader.file_size - reader.end} bytes after them)")
        return PROBLEMS


def _format_of(reader: Reader) -> int:
    return SEGMENT_VERSION if isinstance(reader, SegmentLogReader) else FORMAT_VERSION


def _selected(reader: Reader, args: argparse.Namespace) -> Iterator[Record]:
    keep = record_filter(args)
    first = args.from_offset or 1
    for stored in reader.records(first, args.to_offset):
        if keep(stored.record):
            yield stored.record


def cmd_dump(args: argparse.Namespace) -> int:
    line = json_line if args.json else human_line
    if args.nats:
        first, last, keep = args.from_offset or 1, args.to_offset, record_filter(args)

        def wanted(record: Record) -> bool:
            return first <= record.offset and (last is None or record.offset <= last)

        cli_stream.dump(args.nats, args.stream, line, lambda r: wanted(r) and keep(r))
        return OK
    with _open(args) as reader:
        out = sys.stdout
        for record in _selected(reader, args):
            out.write(line(record) + "\n")
        return _warn_if_corrupt(reader)


def cmd_stats(args: argparse.Namespace) -> int:
    if args.nats:
        summary = asyncio.run(cli_stream.summarize(args.nats, args.stream))
        if args.json:
            _say(json_text(summary.stats()))
        else:
            _print_stats(summary.stats())
        if summary.problem is not None:
            _say(f"chat-log: {summary.problem}", sys.stderr)
            return PROBLEMS
        return OK
    with _open(args, progress=True) as reader:
        counts: Counter[str] = Counter()
        frame_total = 0
        frame_max = 0
        first_ts: float | None = None
        last_ts: float | None = None
        for stored in _checked_records(reader):
            counts[stored.record.name] += 1
            frame_total += stored.frame_bytes
            frame_max = max(frame_max, stored.frame_bytes)
            if first_ts is None:
                first_ts = stored.record.ts
            last_ts = stored.record.ts
        stats = {
            "log": args.log,
            "log_id": reader.log_id,
            "records": reader.head,
            "file_bytes": reader.file_size,
            "frame_bytes": frame_total,
            "average_frame_bytes": round(frame_total / reader.head, 1) if reader.head else 0,
            "max_frame_bytes": frame_max,
            "first_time": iso_time(first_ts) if first_ts is not None else None,
            "last_time": iso_time(last_ts) if last_ts is not None else None,
            "span_s": (last_ts - first_ts) if first_ts is not None and last_ts is not None else 0,
            "counts": dict(counts.most_common()),
        }
        if args.json:
            _say(json_text(stats))
        else:
            _print_stats(stats)
        return _warn_if_corrupt(reader)


def _print_stats(stats: dict[str, Any]) -> None:
    _say(f"log          {stats['log']} (id {stats['log_id']})")
    _say(f"records      {stats['records']}")
    where = "the file"
    if "messages" in stats:  # a stream
        where = "the messages"
        _say(f"messages     {stats['messages']} ({stats['fences']} fences)")
    _say(f"bytes        {stats['file_bytes']} in {where}, {stats['frame_bytes']} in frames")
    _say(f"frame size   average {stats['average_frame_bytes']}, max {stats['max_frame_bytes']}")
    _say(f"time         {stats['first_time']} .. {stats['last_time']} ({stats['span_s']:.0f} s)")
    width = max((len(name) for name in stats["counts"]), default=0)
    for name, count in stats["counts"].items():
        _say(f"  {name:<{width}}  {count}")


def cmd_tail(args: argparse.Namespace) -> int:
    line = json_line if args.json else human_line
    if args.nats:
        cli_stream.tail(args.nats, args.stream, args.lines, line, follow=args.follow)
        return OK
    out = sys.stdout
    with _open(args) as reader:
        for stored in reader.records(max(reader.head - args.lines + 1, 1)):
            out.write(line(stored.record) + "\n")
        out.flush()
        if not args.follow:
            return _warn_if_corrupt(reader)
        with StopSignals() as stop:
            return _follow(reader, args.log, lambda r: out.write(line(r.record) + "\n"), out, stop)


def _follow(
    reader: Reader,
    path: str,
    emit: Callable[[StoredRecord], object],
    out: TextIO,
    stop: StopSignals,
) -> int:
    while not stop.asked():
        if reader.problem is not None and reader.problem.kind == "corrupt":
            _say(f"chat-log: {_describe(reader.problem)}", sys.stderr)
            return PROBLEMS
        time.sleep(FOLLOW_POLL_S)  # the handler runs and the sleep resumes (PEP 475)
        if stop.asked():
            break
        if reader.shrunk():
            _say(f"chat-log: {path} was replaced or truncated; stopping", sys.stderr)
            return PROBLEMS
        before = reader.head
        if reader.refresh():
            for stored in reader.records(before + 1):
                emit(stored)
            out.flush()
    return OK


def _describe_cut(plan: RepairPlan) -> list[str]:
    problem = plan.problem
    assert problem is not None
    if plan.reseal:
        return [
            f"found: {_describe(problem)}",
            f"the repair writes the seal of {plan.path} again (cutting the {plan.cut_bytes} bytes "
            "of the damaged one); no record is cut",
            f"  a copy of the segment goes to {plan.backup_path} first",
        ]
    lost = plan.readable_after
    if lost is None:
        what = f"offset {problem.offset} (unreadable); no readable frame follows it"
    else:
        what = (
            f"offsets {problem.offset}..{lost.last_offset}: the unreadable frame at "
            f"{problem.offset} and {lost.records} readable records after it "
            f"(offsets {lost.first_offset}..{lost.last_offset})"
        )
    return [
        f"found: {_describe(problem)}",
        f"the repair cuts {plan.cut_bytes} bytes, from byte position {plan.cut_from}"
        + (f" of {plan.path}" if plan.later_segments else "")
        + " to the end"
        + (f" and the {len(plan.later_segments)} segments after it" if plan.later_segments else ""),
        f"  records cut: {what}",
        f"  records kept: {plan.kept_records} (offsets 1..{plan.kept_records})",
        f"  a copy of the whole file goes to {plan.backup_path} first",
    ]


def _ask(question: str) -> bool:
    sys.stderr.write(question)
    sys.stderr.flush()
    answer = sys.stdin.readline()
    return answer.strip().lower() in {"y", "yes"}


def cmd_repair(args: argparse.Namespace) -> int:
    refused: list[str] = []

    def confirm(plan: RepairPlan) -> bool:
        for line in _describe_cut(plan):
            _say(line)
        sys.stdout.flush()
        if args.dry_run:
            return False
        if args.yes:
            return True
        if not sys.stdin.isatty():
            refused.append(
                "chat-log: repair refused: standard input is not a terminal to ask on; "
                "rerun with --yes to cut as shown, or --dry-run to only show it"
            )
            return False
        return _ask("cut it? [y/N] ")

    try:
        if os.path.isdir(args.log):
            report = repair_directory(args.log, confirm=confirm)
        else:
            report = repair_log(args.log, confirm=confirm, max_frame_bytes=args.max_frame_bytes)
    except FileNotFoundError:
        _say(f"chat-log: no log at {args.log}", sys.stderr)
        return PROBLEMS
    except (EventStoreError, OSError) as exc:
        _say(f"chat-log: repair refused: {exc}", sys.stderr)
        return PROBLEMS
    plan = report.plan
    if plan.problem is None:
        _say(f"{args.log} is whole ({plan.kept_records} records); nothing cut")
        return OK
    if refused:
        _say(refused[0], sys.stderr)
        return USAGE
    if not report.cut:
        _say("nothing cut" + (" (dry run)" if args.dry_run else ""))
        return PROBLEMS
    if plan.reseal:
        _say(f"wrote the seal of {plan.path} again; backup of the segment: {report.backup_path}")
        return OK
    _say(
        f"cut {plan.cut_bytes} bytes from byte position {plan.cut_from} "
        f"(offset {plan.problem.offset} onward); kept {plan.kept_records} records"
    )
    _say(f"backup of the whole file before the cut: {report.backup_path}")
    return OK


def cmd_copy(args: argparse.Namespace) -> int:
    count = asyncio.run(
        cli_nats.copy_log(args.source, args.dest, stream=args.stream, replicas=args.replicas)
    )
    _say(f"copied {count} records from {args.source} to {args.dest}")
    return OK


def cmd_segments(args: argparse.Namespace) -> int:
    return _report(lambda: segments_report(args.log, as_json=args.json))


def cmd_snapshots(args: argparse.Namespace) -> int:
    return _report(
        lambda: snapshots_report(args.log, code_version=args.code_version, as_json=args.json)
    )


def _report(build: Callable[[], tuple[int, list[str]]]) -> int:
    try:
        code, lines = build()
    except FileNotFoundError:
        raise _CannotReadError("chat-log: no log there") from None
    except (EventStoreError, OSError) as exc:
        raise _CannotReadError(f"chat-log: {exc}") from None
    for line in lines:
        _say(line)
    return code


# -- arguments ----------------------------------------------------------------


def _offset(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("offsets start at 1")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--log", default=DEFAULT_LOG, metavar="PATH", help=f"the log file (default {DEFAULT_LOG})"
    )
    common.add_argument(
        "--max-frame-bytes",
        type=int,
        default=DEFAULT_MAX_FRAME_BYTES,
        help="the frame size cap the log was written with",
    )
    nats = argparse.ArgumentParser(add_help=False)
    nats.add_argument("--nats", metavar="URL", help="read the log of a JetStream stream instead")
    nats.add_argument("--stream", default=DEFAULT_STREAM, help="with --nats: the stream")
    parser = argparse.ArgumentParser(
        prog="chat-log",
        description="Inspect, follow and repair a chat event log.",
        epilog="Every command but repair is read-only and can run beside a live server. "
        "Exit codes: 0 ok, 1 problems found or the log cannot be read, 2 usage.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    verify = commands.add_parser(
        "verify", parents=[common, nats], help="check frames, checksums and offsets"
    )
    verify.set_defaults(run=cmd_verify)

    filters = argparse.ArgumentParser(add_help=False)
    filters.add_argument(
        "--from", dest="from_offset", type=_offset, metavar="OFFSET", help="first offset shown"
    )
    filters.add_argument(
        "--to", dest="to_offset", type=_offset, metavar="OFFSET", help="last offset shown"
    )
    filters.add_argument("--type", help="event name prefix, e.g. message.sent")
    filters.add_argument("--room", help="records whose data has this room")
    filters.add_argument(
        "--user", help=f"records that mention this user (in {', '.join(USER_FIELDS)})"
    )
    dump = commands.add_parser(
        "dump", parents=[common, filters, nats], help="print records, one per line"
    )
    dump.add_argument("--json", action="store_true", help="JSON lines")
    dump.set_defaults(run=cmd_dump)

    stats = commands.add_parser("stats", parents=[common, nats], help="counts, sizes and time span")
    stats.add_argument("--json", action="store_true")
    stats.set_defaults(run=cmd_stats)

    tail = commands.add_parser("tail", parents=[common, nats], help="the last records; -f follows")
    tail.add_argument("-n", "--lines", type=_count, default=10, metavar="N")
    tail.add_argument("-f", "--follow", action="store_true", help="print new records as they come")
    tail.add_argument("--json", action="store_true")
    tail.set_defaults(run=cmd_tail)

    repair = commands.add_parser(
        "repair", parents=[common], help="cut the log after its last good frame (keeps a backup)"
    )
    choice = repair.add_mutually_exclusive_group()
    choice.add_argument("--yes", action="store_true", help="cut without asking")
    choice.add_argument(
        "--dry-run", action="store_true", help="only show what would be cut (exit 1 if anything)"
    )
    repair.set_defaults(run=cmd_repair)

    copy = commands.add_parser(
        "copy",
        help="copy a log into a new one, file <-> JetStream (offsets and log id kept)",
    )
    copy.add_argument("source", help="a log path, or nats://HOST:PORT")
    copy.add_argument("dest", help="a new log path, or nats://HOST:PORT (an empty stream)")
    copy.add_argument("--stream", default=DEFAULT_STREAM, help="the JetStream stream")
    copy.add_argument(
        "--replicas", type=_count, default=1, help="copies of a stream it creates (3: a cluster)"
    )
    copy.set_defaults(run=cmd_copy)

    segments = commands.add_parser(
        "segments", parents=[common], help="the segment files: offsets, records, sizes, state"
    )
    segments.add_argument("--json", action="store_true")
    segments.set_defaults(run=cmd_segments)

    snapshots = commands.add_parser(
        "snapshots", parents=[common], help="the snapshots, each verified against the log"
    )
    snapshots.add_argument(
        "--code-version", metavar="V", help="also refuse snapshots of another code version"
    )
    snapshots.add_argument("--json", action="store_true")
    snapshots.set_defaults(run=cmd_snapshots)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run `chat-log`; return the exit code."""
    args = build_parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        code = run(args)
        sys.stdout.flush()
    except _CannotReadError as failure:
        _say(str(failure), sys.stderr)
        return PROBLEMS
    except BrokenPipeError:
        # The reader went away (`chat-log dump | head`): stop quietly. Point stdout
        # at /dev/null so the interpreter's final flush cannot fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return OK
    except EventStoreError as exc:
        _say(f"chat-log: {exc}", sys.stderr)
        return PROBLEMS
    except KeyboardInterrupt:
        return INTERRUPTED
    return code


if __name__ == "__main__":
    raise SystemExit(main())
