"""Benchmark: durable appends with group commit, and replaying a million events.

1. Durable appends/s under FsyncPolicy.ALWAYS with 1, 16 and 64 concurrent
   writers (each appends one record and awaits durability, in a loop),
   against a baseline measured in the same run and directory: one
   write + fdatasync per event.
2. `open` + `iter_from(0)` over a generated log of 1,000,000 realistic
   records, in a fresh child process so that its peak RSS is the replay's
   own: streaming (count the records), keeping every Record, and keeping
   every Record with the cyclic GC paused (as the server replays). The log
   is in format 2 (segments; open reads the seals, not the records); the
   baseline in the same run is the same records in a format-1 file opened
   and iterated by the code before segments (see `bench/log_formats.py`).

The shared disk of the development VM swings by 10x from second to second,
so runs are repeated (`--repeat`) and interleaved with their baseline.

    .venv/bin/python -m bench.bench_log --duration-s 3 --repeat 3   # everything
    .venv/bin/python -m bench.bench_log --skip-replay --duration-s 2
    .venv/bin/python -m bench.bench_log --dir /somewhere/on/the/disk/to/test
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.log_formats import FORMAT1_NAME, measure_format1, write_format1_copy
from eventstore import FileEventLog, FsyncPolicy, NewRecord
from eventstore.format import DEFAULT_MAX_FRAME_BYTES, encode_frame

WRITERS = (1, 16, 64)
WORDS = ("the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "привет", "мир")
POOL_SIZE = 4096  # appends cycle through pre-built records: the bench measures the log


def realistic(rng: random.Random, n: int, ts: float) -> NewRecord:
    """Mostly messages, some cursor moves and session opens."""
    kind = rng.random()
    user = f"user{rng.randrange(5000)}"
    if kind < 0.7:
        length = rng.randrange(20, 201)
        text = ""
        while len(text) < length:
            text += rng.choice(WORDS) + " "
        return NewRecord(
            ts=ts,
            name="message.sent.v1",
            data={"room": f"room{rng.randrange(200)}", "author": user, "text": text[:length]},
        )
    if kind < 0.9:
        return NewRecord(ts=ts, name="cursor.moved.v1", data={"user": user, "offset": n - 1})
    return NewRecord(
        ts=ts,
        name="session.opened.v1",
        data={
            "user": user,
            "session": rng.randrange(1 << 30),
            "token_hash": f"{rng.getrandbits(256):064x}",
        },
    )


# -- durable appends ----------------------------------------------------------


def record_pool(seed: int) -> list[NewRecord]:
    rng = random.Random(seed)
    return [realistic(rng, n, 1_700_000_000.0 + n) for n in range(POOL_SIZE)]


def baseline_per_event_fsync(directory: Path, duration_s: float) -> float:
    """Appends/s with one write + fdatasync per event (no batching), frames encoded alike."""
    pool = record_pool(1)
    path = directory / "baseline.log"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
    try:
        count = 0
        started = time.perf_counter()
        deadline = started + duration_s
        while time.perf_counter() < deadline:
            r = pool[count % POOL_SIZE]
            count += 1
            frame = encode_frame(
                count, r.ts, r.name, r.data, max_frame_bytes=DEFAULT_MAX_FRAME_BYTES
            )
            os.write(fd, frame)
            os.fdatasync(fd)
        return count / (time.perf_counter() - started)
    finally:
        os.close(fd)
        path.unlink()


async def group_commit(
    directory: Path, writers: int, duration_s: float, policy: FsyncPolicy = FsyncPolicy.ALWAYS
) -> tuple[float, int]:
    """Appends/s with `writers` concurrent appenders; also how many rounds were fsynced."""
    path = directory / f"group-{writers}.log"
    syncs = 0

    def counting_fdatasync(fd: int) -> None:
        nonlocal syncs
        syncs += 1
        os.fdatasync(fd)

    pool = record_pool(writers)
    count = 0
    async with await FileEventLog.open(path, fsync=policy, fdatasync=counting_fdatasync) as log:
        deadline = time.perf_counter() + duration_s

        async def writer() -> None:
            nonlocal count
            while time.perf_counter() < deadline:
                await log.append([pool[count % POOL_SIZE]])
                count += 1

        started = time.perf_counter()
        await asyncio.gather(*(writer() for _ in range(writers)))
        elapsed = time.perf_counter() - started
    return count / elapsed, syncs


def appends(directory: Path, duration_s: float, repeat: int) -> None:
    """Interleave baseline and group commit runs; print each run and the medians.

    The disk is shared with other work, so a single run can be far off:
    each repetition measures the baseline right before the group commit
    runs it is compared with.
    """
    rates: dict[str, list[float]] = {"baseline": []}
    ratios: dict[int, list[float]] = {w: [] for w in WRITERS}
    for n in range(1, repeat + 1):
        base = baseline_per_event_fsync(directory, duration_s)
        rates["baseline"].append(base)
        line = [f"run {n}: baseline {base:,.0f}/s"]
        for writers in WRITERS:
            rate, syncs = asyncio.run(group_commit(directory, writers, duration_s))
            rates.setdefault(f"{writers} writers", []).append(rate)
            ratios[writers].append(rate / base)
            per_sync = rate * duration_s / max(syncs, 1)
            line.append(f"{writers}w {rate:,.0f}/s ({rate / base:.1f}x, {per_sync:.0f}/fsync)")
        print("; ".join(line), flush=True)
    print(f"medians over {repeat} runs of {duration_s:g} s:")
    print(f"  baseline (write+fdatasync per event): {statistics.median(rates['baseline']):,.0f}/s")
    for writers in WRITERS:
        rate = statistics.median(rates[f"{writers} writers"])
        ratio = statistics.median(ratios[writers])
        print(f"  group commit, {writers:>2} writers: {rate:,.0f}/s, {ratio:.1f}x baseline")
    ceiling, _ = asyncio.run(group_commit(directory, 64, duration_s, FsyncPolicy.NONE))
    print(f"  CPU ceiling (FsyncPolicy.NONE, 64 writers, no fsync at all): {ceiling:,.0f}/s")


# -- replay -------------------------------------------------------------------


async def generate(path: Path, records: int) -> float:
    rng = random.Random(42)
    started = time.perf_counter()
    ts = 1_700_000_000.0
    async with await FileEventLog.open(path, fsync=FsyncPolicy.NONE) as log:
        batch: list[NewRecord] = []
        for n in range(1, records + 1):
            ts += rng.random() * 0.5
            batch.append(realistic(rng, n, ts))
            if len(batch) == 10_000:
                await log.append(batch)
                batch = []
        await log.append(batch)
    return time.perf_counter() - started


def peak_rss_mib() -> float:
    """This process's peak RSS: VmHWM where Linux has it, else getrusage.

    getrusage's ru_maxrss survives exec on Linux: a child started by a big
    parent would report the parent's peak. VmHWM belongs to the new image.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def replay_child(path: str, keep: bool, no_gc: bool) -> None:
    """In a fresh process: open + iter_from(0); print timings and RSS as JSON."""
    rss_before_mib = peak_rss_mib()

    async def run() -> dict[str, float]:
        cpu_started = time.process_time()
        started = time.perf_counter()
        if no_gc:
            gc.disable()
        log = await FileEventLog.open(path, fsync=FsyncPolicy.NONE)
        opened = time.perf_counter()
        if keep:
            kept = list(log.iter_from(0))
            count = len(kept)
        else:
            count = sum(1 for _ in log.iter_from(0))
        done = time.perf_counter()
        gc.enable()
        await log.close()
        return {
            "records": count,
            "open_s": opened - started,
            "iter_s": done - opened,
            "total_s": done - started,
            "cpu_s": time.process_time() - cpu_started,
        }

    result = asyncio.run(run())
    result["rss_before_mib"] = rss_before_mib
    result["peak_rss_mib"] = peak_rss_mib()
    result["ru_maxrss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def format1_replay(path: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.bench_log", "format1-child", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(done.stdout)
    return result


def replay(path: Path, keep: bool, no_gc: bool) -> dict[str, float]:
    flags = (["--keep"] if keep else []) + (["--no-gc"] if no_gc else [])
    done = subprocess.run(
        [sys.executable, "-m", "bench.bench_log", "replay-child", str(path), *flags],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(done.stdout)
    return result


# -- main ---------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_log", description=__doc__.split("\n")[0])
    parser.add_argument(
        "mode", nargs="?", default="all", choices=["all", "replay-child", "format1-child"]
    )
    parser.add_argument("path", nargs="?", help="(replay-child) the log to replay")
    parser.add_argument("--keep", action="store_true", help="(replay-child) keep every Record")
    parser.add_argument(
        "--no-gc", action="store_true", help="(replay-child) gc off while replaying"
    )
    parser.add_argument(
        "--dir", type=Path, default=None, help="where to write (default: a temp dir under .)"
    )
    parser.add_argument("--duration-s", type=float, default=5.0)
    parser.add_argument("--replay-records", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="rounds of the append runs")
    parser.add_argument("--skip-replay", action="store_true")
    parser.add_argument("--skip-appends", action="store_true")
    args = parser.parse_args(argv)
    if args.mode == "replay-child":
        replay_child(args.path, args.keep, args.no_gc)
        return 0
    if args.mode == "format1-child":
        result = measure_format1(Path(args.path), iterate=True)
        result["peak_rss_mib"] = peak_rss_mib()
        print(json.dumps(result))
        return 0

    with tempfile.TemporaryDirectory(prefix="bench-log-", dir=args.dir or Path.cwd()) as tmp:
        directory = Path(tmp)
        uname = os.uname()
        print(f"# {uname.sysname} {uname.release} {uname.machine}, nproc={os.cpu_count()}")
        print(f"# directory {directory}")
        if not args.skip_appends:
            appends(directory, args.duration_s, args.repeat)
        if not args.skip_replay:
            path = directory / "replay.log"
            generated_s = asyncio.run(generate(path, args.replay_records))
            size_mib = sum(s.stat().st_size for s in path.glob("*.seg")) / 2**20
            print(
                f"generated {args.replay_records:,} records, {size_mib:.0f} MiB, "
                f"in {generated_s:.1f} s"
            )
            variants = {
                "stream (count)": (False, False),
                "keep all Records": (True, False),
                "keep all Records, gc off": (True, True),
            }
            old = directory / FORMAT1_NAME
            write_format1_copy(path, old)
            runs = [format1_replay(old) for _ in range(args.repeat)]
            base = min(runs, key=lambda run: run["seconds"])
            print(
                f"baseline, format 1 (one file, every frame scanned at open): open "
                f"{base['open_s']:.2f} s + iterate {base['seconds'] - base['open_s']:.2f} s "
                f"= {base['seconds']:.2f} s (cpu {base['cpu_s']:.2f} s); best of {args.repeat}"
            )
            for label, (keep, no_gc) in variants.items():
                # Best of `repeat` by wall time: the other work on the machine only adds.
                runs = [replay(path, keep, no_gc) for _ in range(args.repeat)]
                r = min(runs, key=lambda run: run["total_s"])
                print(
                    f"replay, {label}: open (scan) {r['open_s']:.2f} s + iter_from(0) "
                    f"{r['iter_s']:.2f} s = {r['total_s']:.2f} s (cpu {r['cpu_s']:.2f} s) "
                    f"for {r['records']:,.0f} records; "
                    f"peak RSS {r['peak_rss_mib']:.0f} MiB (interpreter + imports "
                    f"{r['rss_before_mib']:.0f} MiB); best of {args.repeat}"
                )
                if label == "stream (count)":
                    print(
                        f"  format 1 / format 2: open {base['open_s'] / r['open_s']:.0f}x, "
                        f"open + iterate {base['seconds'] / r['total_s']:.2f}x"
                    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
