"""Replay benchmark: open a log of N realistic events and rebuild every projection.

    python -m bench.bench_replay --events 1000000 [--dir DIR] [--keep]

The log is generated once (messages in general and in direct rooms, sessions
opening and closing, coalesced cursor moves, new users joining), written with
fsync off. Then a *fresh process* opens it and replays it through the real
service (`open_service`), and reports wall time and peak RSS, so the number
is what `chat-server` pays at start. Baseline in the same run: the bare log
scan (`iter_from(0)` without decoding into events or folding), which is the
floor the replay cannot go under.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from app import Settings, open_service
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
    started, cpu = time.perf_counter(), time.process_time()
    service = await open_service(Settings(data_dir=data_dir, fsync=FsyncPolicy.NONE))
    elapsed, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    events = service.replayed_events
    await service.close()
    return {"events": events, "seconds": elapsed, "cpu_s": cpu_s}


async def measure_scan(data_dir: Path) -> dict[str, float]:
    started, cpu = time.perf_counter(), time.process_time()
    log = await FileEventLog.open(data_dir / "events.log", fsync=FsyncPolicy.NONE)
    count = sum(1 for _ in log.iter_from(0))
    elapsed, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    await log.close()
    return {"events": count, "seconds": elapsed, "cpu_s": cpu_s}


def child(mode: str, data_dir: Path) -> None:
    measure = measure_replay if mode == "replay" else measure_scan
    result = asyncio.run(measure(data_dir))
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
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
    parser.add_argument("--child", choices=["replay", "scan"])
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
        print(
            f"generated {args.events} events in {time.perf_counter() - started:.1f} s, "
            f"{log_path.stat().st_size / 2**20:.0f} MiB"
        )
    for mode in ("scan", "replay"):
        results = [run_child(mode, data_dir) for _ in range(args.runs)]
        best = min(results, key=lambda r: r["seconds"])
        print(
            f"{mode:6s} events={best['events']:.0f} best_s={best['seconds']:.2f} "
            f"cpu_s={best['cpu_s']:.2f} "
            f"all_s={[round(r['seconds'], 2) for r in results]} "
            f"peak_rss_mb={best['peak_rss_mb']:.0f}"
        )


if __name__ == "__main__":
    main()
