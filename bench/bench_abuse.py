"""Soak: one hostile account at full speed on every write path, beside normal users.

    .venv/bin/python -m bench.bench_abuse                       # 60 s quiet, 60 s attacked
    .venv/bin/python -m bench.bench_abuse --duration-s 20 --users 20

Two runs of a real `chat-server` (default settings: every budget and limit
as an operator gets it, `--fsync always`): a quiet one where `--users`
normal users each send a message to a shared room every two seconds and
read its history, and one where, beside them, one hostile account hammers
every write path from 8 connections as fast as the server answers: 4000-emoji
messages to its own room and to a victim's direct room, 4000-emoji comments,
5 MiB uploads, schedule-and-cancel, rooms, links, invitations and reports,
ignoring every refusal. Reported per run: the normal users' latency (p50,
p99), the server's peak RSS and its growth, the data directory's growth,
what the attacker got through and what was refused (by status), whether
every acknowledged message is in the log after a restart (`chat-log dump`),
and tracebacks in the server's log. The targets: RSS and disk bounded by
the configured budgets, normal p99 within 2x of the quiet run, 0
acknowledged writes lost, 0 tracebacks.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from app import Settings
from bench.bench_api import (
    Connection,
    Server,
    connected,
    machine,
    percentiles_ms,
)

EMOJI_TEXT = "😀" * 4000
UPLOAD = os.urandom(5 * 1024 * 1024)  # each upload changes its first bytes: no dedup
NORMAL_PERIOD_S = 2.0


def default_budget_flags() -> list[str]:
    """The operator's defaults, over bench_api's lifted budgets."""
    settings = Settings()
    flags: list[str] = []
    for kind in ("messages", "comments", "uploads", "schedule", "rooms", "reports"):
        flags += [f"--budget-{kind}", str(getattr(settings, f"budget_{kind}"))]
    flags += ["--rate-limit", str(settings.rate_limit)]
    return flags


def du_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


class Tally:
    """What a group of clients got: statuses, latencies, acknowledged message ids."""

    def __init__(self) -> None:
        self.statuses: Counter[str] = Counter()
        self.latencies: list[float] = []
        self.acknowledged: set[int] = set()

    def record(self, what: str, status: int, body: dict[str, Any], began: float) -> None:
        self.statuses[f"{what} {status}"] += 1
        self.latencies.append(time.perf_counter() - began)
        message = body.get("message")
        if status == 201 and isinstance(message, dict):
            self.acknowledged.add(int(message["id"]))


async def upload(connection: Connection, target: str, data: bytes) -> tuple[int, dict[str, Any]]:
    head = (
        f"POST {target} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/octet-stream\r\n"
        f"Content-Length: {len(data)}\r\n"
    ).encode() + connection.auth
    connection.writer.write(head + b"\r\n" + data)
    status, raw = await connection.read_response()
    return status, json.loads(raw) if raw else {}


async def normal_user(
    connection: Connection, room: str, stop_at: float, tally: Tally, offset_s: float
) -> None:
    await asyncio.sleep(offset_s)
    sequence = 0
    while time.perf_counter() < stop_at:
        sequence += 1
        began = time.perf_counter()
        status, body = await connection.request(
            "POST", "/send", {"text": f"hi {sequence}", "room": room}
        )
        tally.record("send", status, body, began)
        began = time.perf_counter()
        status, body = await connection.request("GET", f"/rooms/{room}/messages?limit=20")
        tally.record("history", status, body, began)
        await asyncio.sleep(NORMAL_PERIOD_S)


async def attacker_loop(
    port: int, connection: Connection, victim: str, index: int, stop_at: float, tally: Tally
) -> None:
    _, body = await connection.request("POST", "/rooms", {"name": f"mine {index}"})
    own_room = body.get("room", {}).get("id", "general")
    step = 0
    while time.perf_counter() < stop_at:
        step += 1
        try:
            await attack_once(connection, victim, own_room, index * 1_000_000 + step, tally)
        except (ConnectionError, asyncio.IncompleteReadError):
            # The server closed on us (an upload it refused before reading it): reconnect.
            tally.statuses["connection closed"] += 1
            connection.close()
            fresh = await Connection.open(port)
            fresh.auth = connection.auth
            connection = fresh
    connection.close()


async def attack_once(
    connection: Connection, victim: str, own_room: str, step: int, tally: Tally
) -> None:
    began = time.perf_counter()
    kind = step % 8
    if kind == 0:
        status, body = await connection.request(
            "POST", "/send", {"text": EMOJI_TEXT, "room": own_room}
        )
        tally.record("send-room", status, body, began)
    elif kind == 1:
        status, body = await connection.request("POST", "/send", {"text": EMOJI_TEXT, "to": victim})
        tally.record("send-dm", status, body, began)
    elif kind == 2:
        target = max(tally.acknowledged, default=1)
        status, body = await connection.request(
            "POST", f"/messages/{target}/comments", {"text": EMOJI_TEXT}
        )
        tally.record("comment", status, body, began)
    elif kind == 3:
        data = step.to_bytes(8, "big") + UPLOAD[8:]
        status, body = await upload(connection, f"/files?room={own_room}&name=x.bin", data)
        tally.record("upload", status, body, began)
    elif kind == 4:
        at = time.time() + 3600
        status, body = await connection.request(
            "POST", "/send", {"text": EMOJI_TEXT, "room": own_room, "send_at": at}
        )
        tally.record("schedule", status, body, began)
        scheduled = body.get("scheduled", {}).get("id")
        if scheduled is not None:
            began = time.perf_counter()
            status, body = await connection.request("DELETE", f"/scheduled/{scheduled}")
            tally.record("cancel", status, body, began)
    elif kind == 5:
        status, body = await connection.request("POST", "/rooms", {"name": f"r{step}"})
        tally.record("room", status, body, began)
    elif kind == 6:
        status, body = await connection.request("POST", f"/rooms/{own_room}/links")
        tally.record("link", status, body, began)
    else:
        status, body = await connection.request("POST", f"/users/{victim}/report", {})
        tally.record("report", status, body, began)


async def sample_rss(server: Server, stop_at: float, samples: list[int]) -> None:
    while time.perf_counter() < stop_at:
        samples.append(server.rss_kib())
        await asyncio.sleep(0.5)


async def attack(port: int, victim: str, duration_s: float) -> Tally:
    """The hostile account: 8 connections, every write path, as fast as answered."""
    attackers = await connected(port, ["mallory"] * 8)
    stop_at = time.perf_counter() + duration_s
    tally = Tally()
    await asyncio.gather(
        *(attacker_loop(port, c, victim, i, stop_at, tally) for i, c in enumerate(attackers))
    )
    return tally


def start_attacker(port: int, victim: str, duration_s: float) -> subprocess.Popen[str]:
    """The attacker in a process of its own, so it does not slow the normal clients down."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.bench_abuse",
            "--attack",
            str(port),
            victim,
            "--duration-s",
            str(duration_s),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )


async def soak(server: Server, users: int, duration_s: float, hostile: bool) -> dict[str, Any]:
    names = [f"user{i}" for i in range(users)]
    normals = await connected(server.port, names)
    owner = normals[0]
    _, body = await owner.request("POST", "/rooms", {"name": "team", "members": names[1:]})
    room = body["room"]["id"]
    attacker = start_attacker(server.port, names[1], duration_s) if hostile else None
    rss_start = server.rss_kib()
    disk_start = du_bytes(server.data_dir)
    stop_at = time.perf_counter() + duration_s
    normal = Tally()
    rss: list[int] = []
    jobs = [
        normal_user(c, room, stop_at, normal, i * NORMAL_PERIOD_S / users)
        for i, c in enumerate(normals)
    ]
    jobs.append(sample_rss(server, stop_at, rss))
    await asyncio.gather(*jobs)
    for connection in normals:
        connection.close()
    attacked: dict[str, Any] = {"statuses": {}, "acknowledged": []}
    if attacker is not None:
        out, _ = attacker.communicate(timeout=duration_s + 60)
        attacked = json.loads(out.strip().splitlines()[-1])
    return {
        "normal_send": percentiles_ms(normal.latencies[0::2]),  # sends, histories alternate
        "normal_history": percentiles_ms(normal.latencies[1::2]),
        "normal_statuses": dict(normal.statuses),
        "attack_statuses": attacked["statuses"],
        "rss_start_mib": rss_start / 1024,
        "rss_peak_mib": max(rss, default=rss_start) / 1024,
        "disk_growth_mib": (du_bytes(server.data_dir) - disk_start) / 2**20,
        "acknowledged": normal.acknowledged | set(attacked["acknowledged"]),
    }


def logged_message_ids(data_dir: Path) -> set[int]:
    dumped = subprocess.run(
        [
            sys.executable,
            "-m",
            "eventstore.cli",
            "dump",
            "--json",
            "--type",
            "message.sent",
            "--log",
            str(data_dir / "events.log"),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {json.loads(line)["offset"] for line in dumped.splitlines() if line.strip()}


def run_once(args: argparse.Namespace, hostile: bool) -> dict[str, Any]:
    log_dir = Path(args.log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"bench-abuse-{'attacked' if hostile else 'quiet'}.log"
    server = Server(*default_budget_flags(), "--log-level", "INFO", stderr=log_path)
    try:
        result = asyncio.run(soak(server, args.users, args.duration_s, hostile))
        acknowledged = result.pop("acknowledged")
        server.process.terminate()
        server.process.wait(timeout=60)
        logged = logged_message_ids(server.data_dir)
        result["acknowledged_messages"] = len(acknowledged)
        result["acknowledged_lost"] = len(acknowledged - logged)
    finally:
        server.stop()
    text = log_path.read_text(errors="replace")
    result["tracebacks"] = text.count("Traceback")
    result["server_errors"] = sum(" ERROR " in line for line in text.splitlines())
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--duration-s", type=float, default=60.0)
    parser.add_argument("--log-dir", default="/tmp")
    parser.add_argument("--attack", nargs=2, metavar=("PORT", "VICTIM"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.attack is not None:  # the attacker's own process (see start_attacker)
        tally = asyncio.run(attack(int(args.attack[0]), args.attack[1], args.duration_s))
        print(
            json.dumps(
                {
                    "statuses": dict(sorted(tally.statuses.items())),
                    "acknowledged": sorted(tally.acknowledged),
                }
            )
        )
        return 0
    print(json.dumps(machine()))
    quiet = run_once(args, hostile=False)
    attacked = run_once(args, hostile=True)
    for name, result in (("quiet", quiet), ("attacked", attacked)):
        print(f"== {name}")
        print(json.dumps(result, indent=1, default=str))
    ratio = attacked["normal_send"]["p99_ms"] / quiet["normal_send"]["p99_ms"]
    print(f"normal users' send p99: attacked / quiet = {ratio:.2f}x (target <= 2x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
