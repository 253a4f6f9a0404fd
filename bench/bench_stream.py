"""Fan-out over event streams (`GET /events/stream`) against long polls, on a real `chat-server`.

    .venv/bin/python -m bench.bench_stream                       # 1,000 clients, 20 and 50 msg/s
    .venv/bin/python -m bench.bench_stream fanout --clients 1000 --rates 20,50 --duration-s 10
    .venv/bin/python -m bench.bench_stream memory --connections 10000

(a) `fanout`: C clients follow `general`, each on its own connection, one
    sender at a steady rate (bench_api's open-loop sender); delivery latency
    from the send's response to the moment a client has read the message.
    Each rate runs twice on fresh servers: streams, then long polls (the
    baseline, bench_api's `fanout_run`).
(b) `memory`: server RSS per open, idle stream, against the same number of
    idle keep-alive connections; the slope of RSS over N/4, N/2, N.

Same server flags, pinning and machine report as bench_api.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from bench.bench_api import (
    Connection,
    Server,
    bounded,
    connected,
    cpu_shares,
    deliveries,
    fanout_run,
    machine,
    open_idle,
    percentiles_ms,
    pin_self,
    raise_nofile,
    settled_rss,
    slope_kib,
    steady_sender,
)

# What a stream client looks for: the id and type lines of an SSE event.
SENT = re.compile(rb"id: ([0-9]+)\nevent: message\.sent\n")


async def open_stream(connection: Connection, after: int) -> None:
    """Ask for the stream and read its head (the body is read by `follow`)."""
    connection.send_request("GET", f"/events/stream?after={after}")
    head = await connection.reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"stream: {head[:200]!r}")


def opener(connection: Connection, after: int) -> Callable[[], Awaitable[None]]:
    """A job for `bounded`: open the stream on this connection."""
    return lambda: open_stream(connection, after)


async def follow(connection: Connection, seen: dict[int, float]) -> None:
    """Read the stream until cancelled, noting when each message id arrived.

    The body is chunked; chunk-size lines never look like an SSE `id:` line,
    so the raw bytes are scanned as they are (keeping a tail for a split line).
    """
    tail = b""
    while True:
        data = await connection.reader.read(65536)
        if not data:
            return
        now = time.perf_counter()
        buffer = tail + data
        for found in SENT.finditer(buffer):
            seen.setdefault(int(found[1]), now)
        tail = buffer[-64:]


async def stream_run(
    server: Server, clients: int, rate: float, duration_s: float
) -> dict[str, Any]:
    started = time.perf_counter()
    listeners = await connected(server.port, [f"reader{i}" for i in range(clients)])
    (sender,) = await connected(server.port, ["fanout-sender"])
    _, health = await sender.request("GET", "/health")
    head = int(health["offset"])
    await bounded([opener(c, head) for c in listeners], 200)
    setup_s = time.perf_counter() - started
    received: list[dict[int, float]] = [{} for _ in listeners]
    tasks = [asyncio.create_task(follow(c, received[i])) for i, c in enumerate(listeners)]
    await asyncio.sleep(2.0)
    with cpu_shares(server) as usage:
        began = time.perf_counter()
        sent = await steady_sender(sender, rate, duration_s)
        sending_s = time.perf_counter() - began
        await asyncio.sleep(3.0)  # stragglers
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for connection in (*listeners, sender):
        connection.close()
    late, _, missing = deliveries(received, sent)
    return {
        "clients": clients,
        "messages": len(sent),
        "deliveries": len(late),
        "missing": missing,
        "setup_s": setup_s,
        "sending_s": sending_s,
        **usage,
        "delivery_from_response": percentiles_ms(late),
        "send": percentiles_ms([answered - began for began, answered in sent.values()]),
    }


def print_run(kind: str, clients: int, rate: float, result: dict[str, Any]) -> None:
    late = result["delivery_from_response"]
    print(
        f"{kind}: {clients} clients, {rate:g} msg/s: {result['deliveries']} deliveries "
        f"({result['missing']} missing), delivery p50 {late.get('p50_ms', 0):.1f} ms "
        f"p99 {late.get('p99_ms', 0):.1f} ms max {late.get('max_ms', 0):.1f} ms; send p99 "
        f"{result['send'].get('p99_ms', 0):.1f} ms, all answered after "
        f"{result['sending_s']:.1f} s; CPU server {result['server_cpu_share']:.0%} "
        f"client {result['client_cpu_share']:.0%} load {result['load']:.1f}"
    )


def bench_fanout(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    flags = ("--fsync", "always", "--max-connections", "20000")
    for rate in args.rates:
        for kind in ("streams", "polls"):
            with Server(*flags, *args.server_args) as server:
                if kind == "streams":
                    result = asyncio.run(stream_run(server, args.clients, rate, args.duration_s))
                else:
                    result = asyncio.run(fanout_run(server, args.clients, rate, args.duration_s))
            results[f"{kind} {args.clients}@{rate:g}"] = result
            print_run(kind, args.clients, rate, result)
    return results


async def memory_run(server: Server, steps: Sequence[int], streams: bool) -> list[tuple[int, int]]:
    loop = asyncio.get_running_loop()
    logins = await connected(server.port, [f"idle{i}" for i in range(100)])
    _, health = await logins[0].request("GET", "/health")
    head = int(health["offset"])
    points = [(0, await loop.run_in_executor(None, settled_rss, server))]
    opened: list[Connection] = []

    def job(index: int) -> Callable[[], Awaitable[Connection]]:
        async def run() -> Connection:
            connection = await Connection.open(server.port)
            connection.auth = logins[index % len(logins)].auth
            await open_stream(connection, head)
            return connection

        return run

    try:
        for total in steps:
            more = total - len(opened)
            if streams:
                opened += await bounded([job(len(opened) + i) for i in range(more)], 200)
            else:
                opened += await open_idle(server.port, more)
            points.append((total, await loop.run_in_executor(None, settled_rss, server)))
    finally:
        for connection in (*opened, *logins):
            connection.close()
    return points


def bench_memory(args: argparse.Namespace) -> dict[str, Any]:
    limit = raise_nofile()
    if limit < args.connections + 300:
        args.connections = limit - 300
        print(f"RLIMIT_NOFILE is {limit}: measuring {args.connections} connections")
    steps = sorted({args.connections // 4, args.connections // 2, args.connections})
    results: dict[str, Any] = {}
    for kind in ("idle", "streams"):
        flags = ["--fsync", "none", "--max-connections", str(args.connections + 200)]
        # Every stream of one user counts against its cap: 100 users share them.
        flags += ["--max-polls-per-user", str(args.connections), "--keepalive-timeout", "600"]
        with Server(*flags, *args.server_args) as server:
            points = asyncio.run(memory_run(server, steps, kind == "streams"))
        results[kind] = {"points_kib": points, "per_connection_kib": slope_kib(points)}
        shown = ", ".join(f"{n}: {rss / 1024:.1f} MiB" for n, rss in points)
        print(f"{kind}: RSS {shown}; {results[kind]['per_connection_kib']:.2f} KiB per connection")
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("which", nargs="*", help="fanout, memory (default: both)")
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument(
        "--rates",
        type=lambda text: [float(r) for r in text.split(",")],
        default=[20.0, 50.0],
        help="comma-separated messages/s, one run of each kind per rate",
    )
    parser.add_argument("--duration-s", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--server-args", type=str.split, default=[], help="more chat-server flags")
    args = parser.parse_args(argv)
    runners = {"fanout": bench_fanout, "memory": bench_memory}
    which = args.which or list(runners)
    unknown = set(which) - set(runners)
    if unknown:
        parser.error(f"unknown benchmarks: {', '.join(sorted(unknown))}")
    pin_self()
    raise_nofile()
    results: dict[str, Any] = {"machine": machine()}
    print(json.dumps(results["machine"]))
    for name in which:
        results[name] = runners[name](args)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
