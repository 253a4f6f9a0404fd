"""Replay benchmark: open a log of N realistic events and rebuild every projection.

    python -m bench.bench_replay --events 1000000 [--dir DIR] [--runs 3]

The log is generated once (messages in general and in direct rooms, sessions
opening and closing, coalesced cursor moves, new users joining), written with
fsync off, in log format 2 (segments), and copied into a format-1 file (one
file of frames) with the same records. Then *fresh processes* measure, each
the best of `--runs`:

- open: `FileEventLog.open` alone (format 2 reads the seals of the sealed
  segments and scans only the active one), against the format-1 open (a
  scan of every frame, as the code before segments did);
- scan: open + `iter_from(0)` without decoding into events or folding, the
  floor the replay cannot go under, against format 1's open + iteration;
- replay: the real service (`open_service`) on the format-2 log, what
  `chat-server` pays at start.

Ratios are format 1 / format 2, measured in the same run on the same records.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from app import Settings, open_service
from bench.bench_log import peak_rss_mib
from bench.log_formats import FORMAT1_NAME, measure_format1, measure_format2, write_format1_copy
from domain import (
    CursorMoved,
    Event,
    MemberJoined,
    MessageSent,
    RoomCreated,
    SessionClosed,
    SessionOpened,
    UserRegistered,
    direct_room_id,
    encode,
)
from eventstore import FileEventLog, FsyncPolicy, NewRecord

MODES = ("open-format1", "open", "scan-format1", "scan")

USERS = 2_000
START_TS = 1_790_000_000.0
SPAN_S = 30 * 86_400.0  # a month of traffic
WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "a",
    "lazy",
    "dog",
    "привет",
    "мир",
    "chat",
    "event",
    "log",
    "replay",
]


def realistic_events(count: int, seed: int = 7) -> list[tuple[float, Event]]:
    rng = random.Random(seed)
    names = [f"user{i}" for i in range(USERS)]
    events: list[tuple[float, Event]] = [
        (START_TS, RoomCreated(room="general", kind="general", name="general", members=()))
    ]
    registered: list[str] = []
    rooms: set[str] = set()
    sessions: dict[str, list[int]] = {}
    step = SPAN_S / count
    ts = START_TS
    while len(events) < count:
        ts += step
        offset = len(events) + 1
        roll = rng.random()
        if len(registered) < USERS and (roll < 0.01 or len(registered) < 10):
            name = names[len(registered)]
            registered.append(name)
            events.append(
                (ts, UserRegistered(user=name, password_hash="scrypt$16384$8$1$" + "ab" * 48))
            )
            events.append((ts, MemberJoined(room="general", user=name)))
            continue
        user = rng.choice(registered)
        if roll < 0.05:
            events.append((ts, SessionOpened(user=user, token_hash=f"{rng.getrandbits(256):064x}")))
            sessions.setdefault(user, []).append(offset)
        elif roll < 0.07 and sessions.get(user):
            events.append((ts, SessionClosed(user=user, session=sessions[user].pop())))
        elif roll < 0.25:
            events.append((ts, CursorMoved(user=user, cursor=offset - 1)))
        else:
            text = " ".join(rng.choices(WORDS, k=rng.randint(3, 30)))
            if roll < 0.85:
                events.append((ts, MessageSent(room="general", author=user, text=text)))
            else:
                other = rng.choice(registered)
                if other == user:
                    continue
                room = direct_room_id(user, other)
                if room not in rooms:
                    rooms.add(room)
                    events.append(
                        (
                            ts,
                            RoomCreated(room=room, kind="direct", name=room, members=(user, other)),
                        )
                    )
                events.append((ts, MessageSent(room=room, author=user, text=text)))
    return events[:count]


async def write_log(path: Path, count: int) -> None:
    log = await FileEventLog.open(path, fsync=FsyncPolicy.NONE)
    batch: list[NewRecord] = []
    for ts, event in realistic_events(count):
        name, data = encode(event)
        batch.append(NewRecord(ts=ts, name=name, data=data))
        if len(batch) == 10_000:
            await log.append(batch)
            batch = []
    if batch:
        await log.append(batch)
    await log.close()


async def measure_replay(data_dir: Path) -> dict[str, float]:
    # A full replay each time: the service writes a snapshot at its clean
    # close, and the next run would start from it (that start is
    # `bench_start`'s to measure).
    shutil.rmtree(data_dir / "events.log" / "snapshots", ignore_errors=True)
    started, cpu = time.perf_counter(), time.process_time()
    service = await open_service(Settings(data_dir=data_dir, fsync=FsyncPolicy.NONE))
    elapsed, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    events = service.replayed_events
    await service.close()
    return {"events": events, "seconds": elapsed, "cpu_s": cpu_s}


def child(mode: str, data_dir: Path) -> None:
    log, old = data_dir / "events.log", data_dir / FORMAT1_NAME
    measures: dict[str, Callable[[], dict[str, float]]] = {
        "replay": lambda: asyncio.run(measure_replay(data_dir)),
        "open": lambda: measure_format2(log, iterate=False),
        "scan": lambda: measure_format2(log, iterate=True),
        "open-format1": lambda: measure_format1(old, iterate=False),
        "scan-format1": lambda: measure_format1(old, iterate=True),
    }
    result = measures[mode]()
    # VmHWM, not ru_maxrss: the latter survives exec and would report the
    # parent's peak (the parent generated the log).
    result["peak_rss_mb"] = peak_rss_mib()
    print(json.dumps(result))


def run_child(mode: str, data_dir: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.bench_replay", "--child", mode, "--dir", str(data_dir)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path)
    parser.add_argument("--child", choices=[*MODES, "replay"])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.dir)
        return
    data_dir = args.dir or Path(tempfile.mkdtemp(prefix="bench-replay-"))
    log_path = data_dir / "events.log"
    if not log_path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        asyncio.run(write_log(log_path, args.events))
        print(f"generated {args.events} events in {time.perf_counter() - started:.1f} s")
    if not (data_dir / FORMAT1_NAME).exists():
        write_format1_copy(log_path, data_dir / FORMAT1_NAME)
    uname = os.uname()
    print(f"# {uname.sysname} {uname.release} {uname.machine}, nproc={os.cpu_count()}")
    segments = sorted(log_path.glob("*.seg"))
    size_mib = sum(s.stat().st_size for s in segments) / 2**20
    print(f"# format 2: {len(segments)} segments, {size_mib:.0f} MiB; format 1: one file")
    best: dict[str, dict[str, float]] = {}
    for mode in (*MODES, "replay"):
        # Interleaved with its baseline: the other work on the machine only adds.
        results = [run_child(mode, data_dir) for _ in range(args.runs)]
        best[mode] = min(results, key=lambda r: r["seconds"])
        b = best[mode]
        print(
            f"{mode:13s} events={b['events']:.0f} best_s={b['seconds']:.3f} "
            f"cpu_s={b['cpu_s']:.2f} "
            f"all_s={[round(r['seconds'], 3) for r in results]} "
            f"peak_rss_mb={b['peak_rss_mb']:.0f}"
        )
    for what in ("open", "scan"):
        old, new = best[f"{what}-format1"]["seconds"], best[what]["seconds"]
        print(f"{what}: format 1 {old:.3f} s / format 2 {new:.3f} s = {old / new:.1f}x")


if __name__ == "__main__":
    main()
