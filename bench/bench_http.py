"""Benchmark: GET of a tiny JSON endpoint with keep-alive, loaded by wrk.

Compares our server with two baselines measured in the same run: a minimal
asyncio-streams responder (no real parsing) and aiohttp (bench-only
dependency). Each server runs pinned to one core (`taskset -c 0`), wrk on
the other (`taskset -c 1`). The machine is shared, so `--rounds N` runs the
servers N times, interleaved (minimal, aiohttp, ours, minimal, ...), and
reports each one's median and the ratios of the medians.

    .venv/bin/python bench/bench_http.py --duration-s 10 --connections 50 --rounds 3
    .venv/bin/python bench/bench_http.py serve ours --port 8080   # one server by hand
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence

from transport.server import HttpServer, Request, Response, Router, json_response

SERVERS = ("minimal", "aiohttp", "ours")
PAYLOAD = {"status": "ok", "n": 1}


async def serve_ours(port: int) -> None:
    async def status(request: Request) -> Response:
        return json_response(200, PAYLOAD)

    router = Router()
    router.add("GET", "/status", status)
    server = HttpServer(router)
    await server.start("127.0.0.1", port)
    await asyncio.Event().wait()


async def serve_minimal(port: int) -> None:
    body = b'{"status":"ok","n":1}'
    response = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%b"
        % (len(body), body)
    )

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")  # no parsing at all
                writer.write(response)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


async def serve_aiohttp(port: int) -> None:
    from aiohttp import web  # noqa: PLC0415 - bench-only dependency, needed by this server only

    async def status(request: web.Request) -> web.Response:
        return web.json_response(PAYLOAD)

    app = web.Application()
    app.router.add_get("/status", status)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await asyncio.Event().wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_listening(port: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"server on port {port} did not start")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_wrk(name: str, args: argparse.Namespace) -> tuple[float, float]:
    """One wrk run against server `name`: (req/s, server CPU microseconds per request)."""
    port = free_port()
    taskset = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    server = subprocess.Popen(
        [*taskset, sys.executable, __file__, "serve", name, "--port", str(port)]
    )
    try:
        wait_listening(port)
        url = f"http://127.0.0.1:{port}/status"
        wrk_pin = ["taskset", "-c", "1"] if taskset else []
        wrk = [*wrk_pin, "wrk", "-t1", f"-c{args.connections}", f"-d{args.duration_s}s", url]
        subprocess.run([*wrk[:-2], "-d2s", url], check=True, capture_output=True)  # warm-up
        cpu_before = cpu_seconds(server.pid)  # taskset execs: the pid is the server's
        out = subprocess.run(wrk, check=True, capture_output=True, text=True).stdout
        cpu_s = cpu_seconds(server.pid) - cpu_before
        print(f"--- {name}\n{out}")
        rate = re.search(r"Requests/sec:\s+([0-9.]+)", out)
        count = re.search(r"([0-9]+) requests in", out)
        if rate is None or count is None or "Non-2xx" in out or "Socket errors" in out:
            raise RuntimeError(f"wrk run against {name} was not clean:\n{out}")
        return float(rate[1]), cpu_s / int(count[1]) * 1e6
    finally:
        server.terminate()
        server.wait(timeout=10)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration-s", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=1, help="interleaved runs per server")
    parser.add_argument(
        "--servers", nargs="+", choices=SERVERS, default=list(SERVERS), help="which to measure"
    )
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="run one server in the foreground")
    serve.add_argument("server", choices=SERVERS)
    serve.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.command == "serve":
        run = {"ours": serve_ours, "minimal": serve_minimal, "aiohttp": serve_aiohttp}
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run[args.server](args.port))
        return 0
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in args.servers}
    for _ in range(args.rounds):
        for name in args.servers:
            runs[name].append(run_wrk(name, args))
    # req/s swings with the other load on a shared machine; the server's CPU time
    # per request much less, so both are reported (the ratio of the latter is the
    # req/s ratio the servers would reach with a core each to themselves).
    rates = {name: statistics.median(r for r, _ in values) for name, values in runs.items()}
    costs = {name: statistics.median(c for _, c in values) for name, values in runs.items()}
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'server':10} {'req/s':>8} {'CPU us/req':>10}  runs (req/s, us/req)")
    for name, values in runs.items():
        each = "  ".join(f"{r:.0f} {c:.1f}" for r, c in values)
        print(f"{name:10} {rates[name]:8.0f} {costs[name]:10.1f}  {each}")
    for base, target in (("aiohttp", 1.0), ("minimal", 0.6)):
        if "ours" in rates and base in rates:
            print(
                f"ours/{base} = {rates['ours'] / rates[base]:.2f}x by req/s, "
                f"{costs[base] / costs['ours']:.2f}x by CPU per request (target >= {target}x)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
