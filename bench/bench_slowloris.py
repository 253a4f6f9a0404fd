"""Benchmark: hostile clients that hold connections without an account.

Two attacks on our `HttpServer` with its production limits, from clients in
the same process that use plain sockets (they never read unless told to):

- `readers`: N clients ask for a 2 MiB answer and never read it. Samples
  the kernel's TCP memory (`/proc/net/sockstat`, "TCP ... mem" in pages,
  both ends of the loopback connections) and the send and receive queues of
  the server's sockets alone (`ss -tm`), once a second, until the server has
  let go of every connection or `--duration-s` passes.
- `silent`: N clients connect and never send a byte against
  `--max-connections`; then one new client a second asks for `GET /ping`
  and we count how many are served and how many get 503.

The clients bind to several loopback addresses (127.0.0.2, .3, ...), so the
per-address cap of the server does not refuse them by itself. Run it on the
code of another commit with `PYTHONPATH=/path/to/that/tree`.

    .venv/bin/python bench/bench_slowloris.py readers --clients 200 --duration-s 100
    .venv/bin/python bench/bench_slowloris.py silent --clients 300 --max-connections 300

Measured 2026-12-02 on the 2-vCPU VM (Linux, loopback, Python 3.11.7), main
(10f0326, via PYTHONPATH) against this branch:

- readers, 200 clients: kernel TCP memory peaked at 411 MiB on main (server
  send queues 385 MiB), held until the idle timeout closed the connections
  at 75 s and still held at 90 s (orphaned sockets with unsent data). On
  this branch it peaks at 65 MiB (server send queues 39 MiB: SO_SNDBUF) and
  the server resets every connection at 30 s (grace 10 s + what the
  buffers took at 16 KiB/s), its send queues at 0; what stays is the
  clients' own receive queues (25 MiB), which on a network is the
  attacker's memory.
- silent, 300 against --max-connections 300: on main every new client got
  503 (5 of 5 in 15 s); on this branch every one got 200 (5 of 5).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import socket
import time
from collections.abc import AsyncIterator, Sequence

import attrs

from transport.server import (
    HttpLimits,
    HttpServer,
    Request,
    Response,
    Router,
    json_response,
    stream_response,
)

ANSWER_BYTES = 2 * 1024 * 1024
PIECE_BYTES = 64 * 1024
CLIENTS_PER_ADDRESS = 50
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
_SKMEM = re.compile(r"skmem:\(r(\d+),rb\d+,t(\d+),tb\d+,f\d+,w(\d+)")


def limits(**overrides: object) -> HttpLimits:
    """Production limits, with the overrides this version of `HttpLimits` knows."""
    known = attrs.fields_dict(HttpLimits)
    return HttpLimits(**{k: v for k, v in overrides.items() if k in known})  # type: ignore[arg-type]


def router() -> Router:
    async def big(request: Request) -> Response:
        async def pieces() -> AsyncIterator[bytes]:
            for _ in range(ANSWER_BYTES // PIECE_BYTES):
                yield b"x" * PIECE_BYTES

        return stream_response(200, pieces(), content_length=ANSWER_BYTES)

    async def ping(request: Request) -> Response:
        return json_response(200, {"pong": True})

    table = Router()
    table.add("GET", "/big", big)
    table.add("GET", "/ping", ping)
    return table


def source(index: int) -> str:
    return f"127.0.0.{2 + index // CLIENTS_PER_ADDRESS}"


async def open_client(port: int, index: int, request: bytes) -> socket.socket:
    sock = socket.socket()
    sock.setblocking(False)
    sock.bind((source(index), 0))
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    if request:
        sock.send(request)
    return sock


def tcp_mem_pages() -> int:
    with open("/proc/net/sockstat") as stats:
        for line in stats:
            if line.startswith("TCP:"):
                fields = line.split()
                return int(fields[fields.index("mem") + 1])
    return 0


async def server_queues(port: int) -> tuple[int, int]:
    """Bytes allocated to the receive and send queues of the server's sockets."""
    proc = await asyncio.create_subprocess_exec(
        "ss", "-tmnH", "state", "all", f"sport = :{port}", stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    found = _SKMEM.findall(out.decode())
    return sum(int(r) for r, _, _ in found), sum(max(int(t), int(w)) for _, t, w in found)


def mib(n: float) -> str:
    return f"{n / 1024 / 1024:7.1f}"


async def readers(args: argparse.Namespace) -> None:
    server = HttpServer(router(), limits())
    await server.start("127.0.0.1", 0)
    base = tcp_mem_pages()
    request = b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n"
    clients = [await open_client(server.port, i, request) for i in range(args.clients)]
    started = time.monotonic()
    print(f"{args.clients} clients asked for {ANSWER_BYTES // 1024} KiB each and never read")
    print("   t_s  tcp_mem_MiB  server_rcv_MiB  server_snd_MiB  open_connections")
    peak = 0
    try:
        while (elapsed := time.monotonic() - started) < args.duration_s:
            pages = tcp_mem_pages() - base
            peak = max(peak, pages)
            rcv, snd = await server_queues(server.port)
            print(
                f"{elapsed:6.1f}  {mib(pages * PAGE_BYTES):>11}  {mib(rcv):>14}  "
                f"{mib(snd):>14}  {server.open_connections:16d}",
                flush=True,
            )
            if elapsed > 1 and server.open_connections == 0 and snd == 0:
                break
            await asyncio.sleep(args.interval_s)
        print(f"peak: {mib(peak * PAGE_BYTES).strip()} MiB of kernel TCP memory")
    finally:
        for sock in clients:
            sock.close()
        await server.shutdown()


async def silent(args: argparse.Namespace) -> None:
    server = HttpServer(router(), limits(max_connections=args.max_connections))
    await server.start("127.0.0.1", 0)
    held = [await open_client(server.port, i, b"") for i in range(args.clients)]
    print(f"{args.clients} silent connections against --max-connections {args.max_connections}")
    loop = asyncio.get_running_loop()
    outcomes: dict[str, int] = {}
    started = time.monotonic()
    try:
        while time.monotonic() - started < args.duration_s:
            sock = await open_client(
                server.port, args.clients, b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n"
            )
            try:
                async with asyncio.timeout(5):
                    answer = await loop.sock_recv(sock, 4096)
                outcome = answer[9:12].decode() or "closed"
            except (TimeoutError, ConnectionError):
                outcome = "no answer"
            finally:
                sock.close()
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            print(f"{time.monotonic() - started:6.1f} s: new client got {outcome}", flush=True)
            await asyncio.sleep(args.interval_s)
        print("new clients:", ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items())))
    finally:
        for sock in held:
            with contextlib.suppress(OSError):
                sock.close()
        await server.shutdown()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("attack", choices=("readers", "silent"))
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--duration-s", type=float, default=100.0)
    parser.add_argument("--interval-s", type=float, default=1.0)
    parser.add_argument("--max-connections", type=int, default=300)
    args = parser.parse_args(argv)
    asyncio.run(readers(args) if args.attack == "readers" else silent(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
