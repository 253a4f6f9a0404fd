"""Background snapshots: the event loop's longest stall while one is taken, and cursor compaction.

    python -m bench.bench_snapshot stall --dir /tmp/bench-start/replay-1m [--rate 200]
    python -m bench.bench_snapshot compaction [--readers 1000] [--rate 5] [--minutes 10] \\
        [--segment-bytes 1048576]

`stall` copies a data directory that `bench_start prepare` made (its
snapshot at the head in place), opens the real service on it in this
process, and sends `--rate` messages a second from 50 users while a task
ticks every millisecond and records how late each tick is: for a few
seconds without a snapshot, while the child process takes one
(`Snapshots.take`: the child, then the compaction of the sealed segments
below it in the store's worker thread), and, for contrast, while the model
is pickled on the loop (what the child saves the loop from).

`compaction` simulates, without HTTP, `--readers` readers who each persist
their cursor once a second while one user sends `--rate` messages a second,
for `--minutes`; it writes the events into a log with `--segment-bytes`
segments, takes a snapshot with the child and compacts below it every
100,000 events (the server's default) and once at the end, and compares the
log's size with the same log without cursor moves.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from app import Budget, ChatService, Settings, open_service
from app.log_upkeep import compact_below
from app.snapshot_taker import take_snapshot
from app.snapshots import code_version, encode_model
from domain import (
    GENERAL,
    CursorMoved,
    Event,
    MemberJoined,
    MessageSent,
    RoomCreated,
    SessionOpened,
    UserRegistered,
    encode,
)
from eventstore import FileEventLog, FsyncPolicy, NewRecord

TICK_S = 0.001


class Ticker:
    """How late a task that sleeps a millisecond at a time wakes up."""

    def __init__(self) -> None:
        self.late_s: list[float] = []

    async def run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(TICK_S)
            self.late_s.append(time.perf_counter() - before - TICK_S)

    def since(self, mark: int) -> list[float]:
        return self.late_s[mark:]


def summary(name: str, late_s: list[float], took_s: float, sends: list[float]) -> None:
    late = sorted(late_s) or [0.0]
    p99 = late[int(len(late) * 0.99) - 1] if len(late) > 1 else late[0]
    sent = sorted(sends) or [0.0]
    print(
        f"{name:22s} took_s={took_s:6.3f} ticks={len(late):6d} "
        f"stall_max_ms={late[-1] * 1000:7.2f} stall_p99_ms={p99 * 1000:6.2f} "
        f"over_5ms={sum(x > 0.005 for x in late):4d} "
        f"send_p99_ms={sent[int(len(sent) * 0.99) - 1] * 1000 if len(sent) > 1 else 0:7.2f}"
    )


async def stall(source: Path, rate: float, baseline_s: float) -> None:
    scratch = Path(tempfile.mkdtemp(prefix="bench-stall-"))
    data = scratch / "data"
    shutil.copytree(source, data, ignore=shutil.ignore_patterns("snapshots-*"))
    shutil.copytree(source / "snapshots-clean", data / "events.log" / "snapshots")
    settings = Settings(
        data_dir=data,
        fsync=FsyncPolicy.ALWAYS,
        snapshot_every_events=0,
        snapshot_interval_s=0.0,
        scrypt_n=2,
        rate_limit=10**9,
        min_password_length=1,
        budget_messages=Budget(requests=10**9, bytes=2**40),
    )
    service = await open_service(settings)
    try:
        await _stall_phases(service, settings, rate, baseline_s)
    finally:
        await service.close()
        shutil.rmtree(scratch, ignore_errors=True)


async def _stall_phases(
    service: ChatService, settings: Settings, rate: float, baseline_s: float
) -> None:
    sessions = []
    for n in range(50):
        result = await service.identity.connect(f"bench{n}", "pw")
        sessions.append(service.identity.authenticate(result.token))
    ticker = Ticker()
    latencies: list[float] = []
    tasks: set[asyncio.Task[None]] = set()

    async def one_send(n: int) -> None:
        started = time.perf_counter()
        await service.messages.send(sessions[n % len(sessions)], text=f"load {n}")
        latencies.append(time.perf_counter() - started)

    async def load() -> None:
        n = 0
        while True:
            task = asyncio.create_task(one_send(n))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            n += 1
            await asyncio.sleep(1 / rate)

    background = [asyncio.create_task(ticker.run()), asyncio.create_task(load())]

    async def phase(name: str, work: Callable[[], Awaitable[Any]]) -> Any:
        mark, sent = len(ticker.late_s), len(latencies)
        started = time.perf_counter()
        result = await work()
        summary(name, ticker.since(mark), time.perf_counter() - started, latencies[sent:])
        return result

    log = service.core.event_log
    assert isinstance(log, FileEventLog)
    print(f"# head {log.durable_head}, {rate:g} sends/s from {len(sessions)} users, fsync always")
    await phase("no snapshot", lambda: asyncio.sleep(baseline_s))
    version = code_version(settings)

    async def child() -> Any:
        return await take_snapshot(
            log.path,
            upto=log.durable_head,
            version=version,
            ttl_s=settings.message_ttl_s,
            rate_window_s=settings.rate_window_s,
        )

    for _ in range(3):
        taken = await phase("snapshot in the child", child)
        print(f"# the child folded {taken.folded} events, wrote {taken.payload_bytes} bytes")
    report = await phase(
        "compaction (thread)",
        lambda: compact_below(log, taken.offset, needed=taken.needed, stop=threading.Event()),
    )
    print(f"# compaction rewrote {len(report.segments)} segments, dropped {report.dropped}")

    async def on_the_loop() -> None:
        encode_model(service.core.model)  # what the child saves the loop from
        await asyncio.sleep(0.01)  # the late tick lands in this phase

    await phase("pickle on the loop", on_the_loop)
    await phase("no snapshot, again", lambda: asyncio.sleep(baseline_s))
    for task in background:
        task.cancel()
    await asyncio.gather(*background, *tasks, return_exceptions=True)


def reader_events(readers: int, rate: float, minutes: float) -> list[list[tuple[float, Event]]]:
    """One batch of events per second: messages, then every reader's cursor move."""
    ts = 1_790_000_000.0
    setup: list[tuple[float, Event]] = [
        (ts, RoomCreated(room=GENERAL, kind="general", name=GENERAL, members=()))
    ]
    offset = 1
    sessions: dict[str, int] = {}
    for name in ["sender", *(f"reader{n}" for n in range(readers))]:
        for event in (
            UserRegistered(user=name, password_hash="scrypt$16384$8$1$" + "ab" * 48),
            MemberJoined(room=GENERAL, user=name),
            SessionOpened(user=name, token_hash=f"{offset:064x}"),
        ):
            setup.append((ts, event))
            offset += 1
        sessions[name] = offset
    batches = [setup]
    for second in range(int(minutes * 60)):
        ts += 1.0
        batch: list[tuple[float, Event]] = []
        for n in range(int(rate)):
            text = f"message {second}.{n}: the quick brown fox jumps over the lazy dog"
            batch.append((ts, MessageSent(room=GENERAL, author="sender", text=text)))
        offset += len(batch)
        for n in range(readers):
            reader = f"reader{n}"
            batch.append((ts, CursorMoved(user=reader, cursor=offset, session=sessions[reader])))
        offset += readers
        batches.append(batch)
    return batches


async def compaction(readers: int, rate: float, minutes: float, segment_bytes: int) -> None:
    scratch = Path(tempfile.mkdtemp(prefix="bench-compaction-"))
    settings = Settings(data_dir=scratch)
    batches = reader_events(readers, rate, minutes)
    version = code_version(settings)

    async def write(path: Path, keep: Callable[[Event], bool], upkeep: bool) -> FileEventLog:
        log = await FileEventLog.open(path, fsync=FsyncPolicy.NONE, segment_max_bytes=segment_bytes)
        since = 0
        for batch in batches:
            records = [
                NewRecord(ts=ts, name=name, data=data)
                for ts, event in batch
                if keep(event)
                for name, data in [encode(event)]
            ]
            await log.append(records)
            since += len(records)
            if upkeep and since >= settings.snapshot_every_events:
                await snapshot_and_compact(log)
                since = 0
        if upkeep:
            await snapshot_and_compact(log)  # the next background snapshot
        return log

    async def snapshot_and_compact(log: FileEventLog) -> None:
        taken = await take_snapshot(
            log.path,
            upto=log.durable_head,
            version=version,
            ttl_s=settings.message_ttl_s,
            rate_window_s=settings.rate_window_s,
        )
        await compact_below(log, taken.offset, needed=taken.needed, stop=threading.Event())

    try:
        started = time.perf_counter()
        whole = await write(scratch / "whole.log", lambda e: True, upkeep=False)
        compacted = await write(scratch / "events.log", lambda e: True, upkeep=True)
        bare = await write(
            scratch / "bare.log", lambda e: not isinstance(e, CursorMoved), upkeep=False
        )
        sizes = {name: log.size_bytes for name, log in (("whole", whole), ("bare", bare))}
        sizes["compacted"] = compacted.size_bytes
        snapshots = sum(p.stat().st_size for p in (scratch / "events.log").glob("snapshots/*"))
        active = compacted.segments[-1].data_end
        print(
            f"# {readers} readers, {rate:g} msg/s, {minutes:g} min, segments of "
            f"{segment_bytes} bytes; {compacted.head} events, {len(compacted.segments)} "
            f"segments, {time.perf_counter() - started:.0f} s"
        )
        for log in (whole, compacted, bare):
            await log.close()
        print(
            f"log without compaction {sizes['whole']:>11,d} bytes\n"
            f"log after compaction   {sizes['compacted']:>11,d} bytes "
            f"(of which the active segment {active:,d}; + {snapshots:,d} bytes of snapshots)\n"
            f"log without cursors    {sizes['bare']:>11,d} bytes\n"
            f"after compaction / without cursors = {sizes['compacted'] / sizes['bare']:.2f}x "
            f"(without compaction: {sizes['whole'] / sizes['bare']:.1f}x)"
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("what", choices=["stall", "compaction"])
    parser.add_argument("--dir", type=Path)
    parser.add_argument("--rate", type=float)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--readers", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--segment-bytes", type=int, default=1024 * 1024)
    args = parser.parse_args()
    if args.what == "stall":
        assert args.dir is not None, "--dir: a data directory that bench_start prepared"
        asyncio.run(stall(args.dir, args.rate or 200.0, args.seconds))
    else:
        asyncio.run(compaction(args.readers, args.rate or 5.0, args.minutes, args.segment_bytes))


if __name__ == "__main__":
    main()
