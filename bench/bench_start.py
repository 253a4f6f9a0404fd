"""Start time of the real `chat-server` on a big log, with and without snapshots.

    python -m bench.bench_start prepare --events 1000000 --dir /tmp/bench-start/replay-1m \\
        [--generator replay|realistic] [--tail 100000]
    python -m bench.bench_start measure --dir /tmp/bench-start/replay-1m [--runs 5]

`prepare` writes the log (the `bench_replay` generator, or `realistic`:
users with a few contacts each, sessions that end, cursor moves from
readers, a steady event time) and two sets of snapshots kept beside it: one
at the head (what a clean shutdown leaves) and one `--tail` events before
it (what a kill -9 that long after the last background snapshot leaves);
both are folded and written in this process with the server's own code.

`measure` starts `chat-server` (background snapshots off, so that nothing
is written) in three states, interleaved, `--runs` times each: no snapshot
(a full replay: the first start after a change of the fold), the snapshot
at the head, the snapshot `--tail` events old. For each start: the wall
time from `Popen` to the `listening` line on stderr, the server's CPU time
(user + system, from /proc) and its peak RSS (VmHWM) at that moment; then
it is killed with SIGKILL (nothing is written). Medians are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from app import Settings
from app.snapshots import code_version, encode_model
from bench.bench_replay import WORDS
from bench.bench_replay import realistic_events as replay_events
from domain import (
    GENERAL,
    CursorMoved,
    Event,
    MemberJoined,
    MessageSent,
    RoomCreated,
    SessionClosed,
    SessionOpened,
    UserRegistered,
    decode,
    direct_room_id,
    encode,
)
from eventstore import FileEventLog, FsyncPolicy, NewRecord, ReadOnlyLog
from projections import ReadModel

CHAT_SERVER = Path(sys.executable).with_name("chat-server")
LISTENING = re.compile(r"listening on .* snapshot=(\w+) replayed=(\d+)")
STATES = ("full", "clean", "kill9")
START_TS = 1_790_000_000.0


def realistic(count: int, seed: int = 11) -> Iterator[tuple[float, Event]]:
    """A server with users who have a few contacts, short sessions, and readers.

    One event every 0.5 s of event time (10M events: two months); a user
    per 2,000 events, joining over the first tenth of it; per event: a
    cursor move of one of the user's open sessions (45%), a message (50%:
    four in five to general, the rest to one of the author's 5 contacts),
    or a session opened (the oldest of 3 closed first) or closed (5%).
    """
    rng = random.Random(seed)
    users = max(100, min(20_000, count // 2_000))
    names = [f"user{i}" for i in range(users)]
    contacts = {n: rng.sample(names, 5) for n in names}
    yield START_TS, RoomCreated(room=GENERAL, kind="general", name=GENERAL, members=())
    registered: list[str] = []
    sessions: dict[str, list[int]] = {}
    rooms: set[str] = set()
    offset = 1
    for n in range(count - 1):
        ts = START_TS + n * 0.5
        joining = len(registered) < users and rng.random() < users * 10 / count + 0.001
        if joining or len(registered) < 10:
            name = names[len(registered)]
            registered.append(name)
            batch: list[Event] = [
                UserRegistered(user=name, password_hash="scrypt$16384$8$1$" + "ab" * 48),
                MemberJoined(room=GENERAL, user=name),
            ]
        else:
            batch = _activity(rng, rng.choice(registered), sessions, contacts, rooms, offset)
        for event in batch:
            offset += 1
            if isinstance(event, SessionOpened):
                sessions.setdefault(event.user, []).append(offset)
            yield ts, event


def _activity(
    rng: random.Random,
    user: str,
    sessions: dict[str, list[int]],
    contacts: dict[str, list[str]],
    rooms: set[str],
    offset: int,
) -> list[Event]:
    roll = rng.random()
    mine = sessions.get(user, [])
    if roll < 0.45 and mine:
        return [CursorMoved(user=user, cursor=offset, session=rng.choice(mine))]
    if roll < 0.95:
        text = " ".join(rng.choices(WORDS, k=rng.randint(3, 20)))
        if roll < 0.85:
            return [MessageSent(room=GENERAL, author=user, text=text)]
        other = rng.choice(contacts[user])
        if other == user:
            return []
        room = direct_room_id(user, other)
        created = []
        if room not in rooms:
            rooms.add(room)
            created = [RoomCreated(room=room, kind="direct", name=room, members=(user, other))]
        return [*created, MessageSent(room=room, author=user, text=text)]
    if len(mine) >= 3 or (mine and roll > 0.99):
        return [SessionClosed(user=user, session=mine.pop(0))]
    return [SessionOpened(user=user, token_hash=f"{rng.getrandbits(256):064x}")]


async def write_log(path: Path, events: Iterator[tuple[float, Event]]) -> None:
    log = await FileEventLog.open(path, fsync=FsyncPolicy.NONE)
    batch: list[NewRecord] = []
    for ts, event in events:
        name, data = encode(event)
        batch.append(NewRecord(ts=ts, name=name, data=data))
        if len(batch) == 10_000:
            await log.append(batch)
            batch = []
    if batch:
        await log.append(batch)
    await log.close()


def write_snapshots(data_dir: Path, upto: int, into: Path) -> None:
    """Fold the log up to `upto` and write the snapshot the server would, kept in `into`."""
    settings = Settings(data_dir=data_dir)
    log_path = data_dir / "events.log"
    model = ReadModel(ttl_s=settings.message_ttl_s, rate_window_s=settings.rate_window_s)
    with ReadOnlyLog(str(log_path), upto=upto) as view:
        model.fold_until(view.read(upto).ts)
        for record in view.iter_from(0):
            model.apply(record.offset, record.ts, decode(record.name, record.data))
        model.fold_until(None)
        view.snapshot_store().write(upto, encode_model(model), code_version(settings))
    shutil.move(log_path / "snapshots", into)


def prepare(data_dir: Path, events: int, generator: str, tail: int) -> None:
    data_dir.mkdir(parents=True, mode=0o700, exist_ok=True)
    log_path = data_dir / "events.log"
    started = time.perf_counter()
    source = realistic(events) if generator == "realistic" else iter(replay_events(events))
    asyncio.run(write_log(log_path, source))
    print(f"generated {events} events in {time.perf_counter() - started:.1f} s")
    head = asyncio.run(_head(log_path))
    for name, upto in (("snapshots-clean", head), ("snapshots-kill9", head - tail)):
        started = time.perf_counter()
        write_snapshots(data_dir, upto, data_dir / name)
        print(f"{name}: snapshot at {upto} in {time.perf_counter() - started:.1f} s")


async def _head(log_path: Path) -> int:
    async with await FileEventLog.open(log_path, fsync=FsyncPolicy.NONE) as log:
        return log.durable_head


def _use_snapshots(data_dir: Path, state: str) -> None:
    live = data_dir / "events.log" / "snapshots"
    if live.exists():
        shutil.rmtree(live)
    if state != "full":
        shutil.copytree(data_dir / f"snapshots-{state}", live)


def _proc(pid: int) -> tuple[float, float]:
    """CPU seconds (user + system) and peak RSS in MiB of a running process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu_s = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    status = Path(f"/proc/{pid}/status").read_text()
    peak_kib = int(re.search(r"VmHWM:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    return cpu_s, peak_kib / 1024


def start_once(data_dir: Path) -> dict[str, float | str]:
    command = [str(CHAT_SERVER), "--data-dir", str(data_dir), "--port", "0"]
    command += ["--snapshot-every", "0", "--snapshot-interval", "0"]
    started = time.perf_counter()
    server = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stderr is not None
        for line in server.stderr:
            if match := LISTENING.search(line):
                wall_s = time.perf_counter() - started
                cpu_s, peak_mib = _proc(server.pid)
                return {
                    "wall_s": wall_s,
                    "cpu_s": cpu_s,
                    "peak_mib": peak_mib,
                    "snapshot": match.group(1),
                    "replayed": float(match.group(2)),
                }
        raise RuntimeError("the server stopped before listening")
    finally:
        server.kill()
        server.wait()
        if server.stderr is not None:
            server.stderr.close()


def measure(data_dir: Path, runs: int, states: list[str]) -> None:
    uname = os.uname()
    print(
        f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {uname.sysname} "
        f"{uname.release}, nproc={os.cpu_count()}, load {os.getloadavg()[0]:.1f}"
    )
    results: dict[str, list[dict[str, float | str]]] = {state: [] for state in states}
    for _ in range(runs):
        for state in states:  # interleaved: the machine's other work spreads over all
            _use_snapshots(data_dir, state)
            results[state].append(start_once(data_dir))
    _use_snapshots(data_dir, "full")
    for state, found in results.items():
        walls = [float(r["wall_s"]) for r in found]
        print(
            f"{state:6s} snapshot={found[0]['snapshot']} replayed={found[0]['replayed']:.0f} "
            f"wall_s median={statistics.median(walls):.3f} "
            f"min={min(walls):.3f} cpu_s median="
            f"{statistics.median(float(r['cpu_s']) for r in found):.3f} "
            f"peak_rss_mib={max(float(r['peak_mib']) for r in found):.0f} "
            f"all_wall_s={[round(w, 3) for w in walls]}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("what", choices=["prepare", "measure"])
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--generator", choices=["replay", "realistic"], default="replay")
    parser.add_argument("--tail", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--states", default=",".join(STATES))
    args = parser.parse_args()
    if args.what == "prepare":
        prepare(args.dir, args.events, args.generator, args.tail)
    else:
        measure(args.dir, args.runs, args.states.split(","))


if __name__ == "__main__":
    main()
