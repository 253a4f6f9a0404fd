"""Benchmarks of the chat API against a real `chat-server` subprocess.

    .venv/bin/python -m bench.bench_api                 # all three, default sizes
    .venv/bin/python -m bench.bench_api send --duration-s 10 --clients 64
    .venv/bin/python -m bench.bench_api fanout --pollers 1000 --rate 20 --duration-s 10
    .venv/bin/python -m bench.bench_api memory --connections 10000
    .venv/bin/python -m bench.bench_api send --profile /tmp/send.prof

(a) `send`: durable `POST /send` throughput and latency, closed loop, N
    keep-alive clients, `--fsync always` against the `--fsync none` baseline
    and the HTTP ceiling (`GET /health` on the same connections).
(b) `fanout`: P clients parked in `GET /events`, one sender at a steady rate;
    delivery latency from the send's response to each poller's response,
    against a baseline of 10 pollers.
(c) `memory`: server RSS (VmRSS) per parked long poll, against the same
    number of idle keep-alive connections.

The server is pinned to core 0 and this process to core 1 when `taskset`
exists. Clients speak hand-written minimal HTTP/1.1 over asyncio streams
(Content-Length bodies only, which is all the server sends for JSON).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import resource
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*([0-9]+)", re.IGNORECASE)
T = TypeVar("T")
PASSWORD = "bench-password"
# Flags that lift every per-user and per-address budget.
UNLIMITED = tuple(
    item
    for budget in (
        "messages",
        "comments",
        "uploads",
        "schedule",
        "rooms",
        "reports",
        "registrations",
    )
    for item in (f"--budget-{budget}", "1000000000/1s")
)


# ------------------------------------------------------------------ the server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """A `chat-server` subprocess on a free port with its own data directory."""

    def __init__(
        self,
        *flags: str,
        profile: str | None = None,
        stderr: Path | None = None,
        cpus: str = "0",
    ) -> None:
        self.port = free_port()
        self._tmp = tempfile.TemporaryDirectory(prefix="bench-api-")
        self.data_dir = Path(self._tmp.name) / "data"
        taskset = ["taskset", "-c", cpus] if shutil.which("taskset") else []
        python = [sys.executable]
        if profile is not None:
            python += ["-m", "cProfile", "-o", profile]
        command = [
            *taskset,
            *python,
            "-m",
            "transport.cli",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            "--log-level",
            "WARNING",  # the per-request INFO line would be measured too
            "--rate-limit",
            "1000000000",  # the benchmark is not about the rate limit
            *UNLIMITED,  # nor about the per-user budgets
            "--max-connections-per-peer",
            "1000000",  # every client comes from 127.0.0.1
            *flags,
        ]
        self._stderr = None if stderr is None else stderr.open("wb")
        self.process = subprocess.Popen(
            command, cwd=ROOT, stdin=subprocess.DEVNULL, stderr=self._stderr
        )
        try:
            self._wait_listening()
        except BaseException:  # no caller holds it yet to stop it
            self.stop()
            raise

    def _wait_listening(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"chat-server exited with {self.process.returncode}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 0.2),
            ):
                return
            time.sleep(0.05)
        raise TimeoutError("chat-server did not start")

    def rss_kib(self) -> int:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        found = re.search(r"^VmRSS:\s+([0-9]+) kB", status, re.MULTILINE)
        assert found is not None
        return int(found[1])

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._stderr is not None:
            self._stderr.close()
        self._tmp.cleanup()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# ------------------------------------------------------------------ the client


class Connection:
    """One keep-alive HTTP/1.1 connection with a bearer token."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.auth = b""

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        return cls(reader, writer)

    def send_request(self, method: str, target: str, body: bytes | None = None) -> None:
        head = f"{method} {target} HTTP/1.1\r\nHost: bench\r\n".encode() + self.auth
        if body is not None:
            head += b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
            self.writer.write(head + b"\r\n" + body)
        else:
            self.writer.write(head + b"\r\n")

    async def read_response(self) -> tuple[int, bytes]:
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        found = CONTENT_LENGTH.search(head)
        body = await self.reader.readexactly(int(found[1])) if found else b""
        return status, body

    async def request(
        self, method: str, target: str, body: object = None
    ) -> tuple[int, dict[str, Any]]:
        self.send_request(method, target, None if body is None else json.dumps(body).encode())
        status, raw = await self.read_response()
        return status, json.loads(raw) if raw else {}

    async def connect_as(self, name: str) -> dict[str, Any]:
        status, body = await self.request("POST", "/connect", {"name": name, "password": PASSWORD})
        if status not in (200, 201):
            raise RuntimeError(f"connect {name}: {status} {body}")
        self.auth = f"Authorization: Bearer {body['token']}\r\n".encode()
        return body

    def close(self) -> None:
        self.writer.close()


async def bounded(jobs: Sequence[Callable[[], Awaitable[T]]], concurrency: int) -> list[T]:
    """Run the jobs with at most `concurrency` at a time; results in order."""
    semaphore = asyncio.Semaphore(concurrency)

    async def one(job: Callable[[], Awaitable[T]]) -> T:
        async with semaphore:
            return await job()

    return list(await asyncio.gather(*(one(job) for job in jobs)))


async def connected(port: int, names: Sequence[str], concurrency: int = 16) -> list[Connection]:
    """One connection per name, each logged in as that user."""

    def job(name: str) -> Callable[[], Awaitable[Connection]]:
        async def run() -> Connection:
            connection = await Connection.open(port)
            await connection.connect_as(name)
            return connection

        return run

    return await bounded([job(name) for name in names], concurrency)


def percentiles_ms(samples: Sequence[float]) -> dict[str, float]:
    if not samples:
        return {"n": 0}
    ordered = sorted(samples)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return {
        "n": len(ordered),
        "p50_ms": at(0.50),
        "p90_ms": at(0.90),
        "p99_ms": at(0.99),
        "max_ms": ordered[-1] * 1000,
        "mean_ms": statistics.fmean(ordered) * 1000,
    }


@contextlib.contextmanager
def cpu_shares(server: Server) -> Iterator[dict[str, Any]]:
    """Fill the yielded dict with the CPU share of the server and of this process.

    Next to the load average, they tell a server that is the bottleneck
    (~100%) from one starved by other work on the machine.
    """
    result: dict[str, Any] = {"load": os.getloadavg()[0]}
    server_before = server.cpu_s()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    self_before = usage.ru_utime + usage.ru_stime
    began = time.perf_counter()
    yield result
    elapsed = time.perf_counter() - began
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["server_cpu_share"] = (server.cpu_s() - server_before) / elapsed
    result["client_cpu_share"] = (usage.ru_utime + usage.ru_stime - self_before) / elapsed


def pin_self() -> None:
    if shutil.which("taskset"):
        subprocess.run(
            ["taskset", "-p", "-c", "1", str(os.getpid())], check=True, capture_output=True
        )


def raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ---------------------------------------------------------- (a) send throughput


async def closed_loop(
    connections: Sequence[Connection],
    method: str,
    target: str,
    body: Callable[[int], bytes] | None,
    expect: int,
    warmup_s: float,
    duration_s: float,
) -> dict[str, Any]:
    latencies: list[float] = []
    measuring = False
    done = 0
    stop_at = time.perf_counter() + warmup_s + duration_s

    async def client(connection: Connection, index: int) -> None:
        nonlocal done
        sequence = 0
        while time.perf_counter() < stop_at:
            sequence += 1
            payload = None if body is None else body(index * 10_000_000 + sequence)
            started = time.perf_counter()
            connection.send_request(method, target, payload)
            status, raw = await connection.read_response()
            if status != expect:
                raise RuntimeError(f"{method} {target}: {status} {raw[:200]!r}")
            if measuring:
                latencies.append(time.perf_counter() - started)
                done += 1

    tasks = [asyncio.create_task(client(c, i)) for i, c in enumerate(connections)]
    await asyncio.sleep(warmup_s)
    measuring = True
    began = time.perf_counter()
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - began
    return {"requests_per_s": done / elapsed, **percentiles_ms(latencies)}


def message_body(sequence: int) -> bytes:
    return b'{"text":"bench message %d, a line of ordinary chat text"}' % sequence


async def send_run(
    server: Server, clients: int, warmup_s: float, duration_s: float
) -> dict[str, Any]:
    connections = await connected(server.port, [f"sender{i}" for i in range(clients)])
    try:
        with cpu_shares(server) as sends:
            sends.update(
                await closed_loop(
                    connections, "POST", "/send", message_body, 201, warmup_s, duration_s
                )
            )
        health = await closed_loop(connections, "GET", "/health", None, 200, 1.0, duration_s / 2)
    finally:
        for connection in connections:
            connection.close()
    return {"send": sends, "health": health}


def bench_send(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for policy in ("always", "none"):
        profile = f"{args.profile}.send" if args.profile and policy == "always" else None
        with Server("--fsync", policy, *args.server_args, profile=profile) as server:
            results[policy] = asyncio.run(
                send_run(server, args.clients, args.warmup_s, args.duration_s)
            )
            results[policy]["log_bytes"] = (server.data_dir / "events.log").stat().st_size
        print_send(policy, results[policy])
    return results


def print_send(policy: str, result: dict[str, Any]) -> None:
    send, health = result["send"], result["health"]
    print(
        f"--fsync {policy}: POST /send {send['requests_per_s']:8.0f} msg/s  "
        f"p50 {send['p50_ms']:.2f} ms  p90 {send['p90_ms']:.2f} ms  "
        f"p99 {send['p99_ms']:.2f} ms  max {send['max_ms']:.1f} ms  "
        f"CPU server {send['server_cpu_share']:.0%} client {send['client_cpu_share']:.0%} "
        f"load {send['load']:.1f}  | GET /health "
        f"{health['requests_per_s']:8.0f} req/s p99 {health['p99_ms']:.2f} ms"
    )


# ------------------------------------------------------------------ (b) fan-out


async def steady_sender(
    sender: Connection, rate: float, duration_s: float
) -> dict[int, tuple[float, float]]:
    """Send `rate` messages a second, open loop; message id -> (request start, response time).

    The requests are pipelined on one connection at their scheduled times,
    whether or not the earlier ones were answered (the server answers in
    order), so a slow server cannot lower the offered rate.
    """
    count = round(rate * duration_s)
    started: asyncio.Queue[float] = asyncio.Queue()
    sent: dict[int, tuple[float, float]] = {}

    async def answers() -> None:
        for _ in range(count):
            status, raw = await sender.read_response()
            answered = time.perf_counter()
            if status != 201:
                raise RuntimeError(f"send: {status} {raw[:200]!r}")
            sent[json.loads(raw)["message"]["id"]] = (await started.get(), answered)

    reader = asyncio.create_task(answers())
    first = time.perf_counter()
    for sequence in range(count):
        delay = first + sequence / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        started.put_nowait(time.perf_counter())
        sender.send_request("POST", "/send", b'{"text":"fan %d"}' % sequence)
    await reader
    return sent


class LongPolls:
    """Connections long-polling `/events` from `head`, noting when each `message.sent` arrives.

    `received[i]` maps a message id to when connection i read it; `polls`
    counts the answered polls of all of them.
    """

    def __init__(self, connections: Sequence[Connection], head: int) -> None:
        self.received: list[dict[int, float]] = [{} for _ in connections]
        self.polls = 0
        self._tasks = [
            asyncio.create_task(self._poll(connection, head, seen))
            for connection, seen in zip(connections, self.received, strict=True)
        ]

    async def _poll(self, connection: Connection, after: int, seen: dict[int, float]) -> None:
        while True:
            connection.send_request("GET", f"/events?after={after}&timeout=30")
            status, raw = await connection.read_response()
            now = time.perf_counter()
            if status != 200:
                raise RuntimeError(f"poll: {status} {raw[:200]!r}")
            self.polls += 1
            page = json.loads(raw)
            after = page["next"]
            for event in page["events"]:
                if event["type"] == "message.sent":
                    seen[event["message"]["id"]] = now

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def deliveries(
    received: Sequence[dict[int, float]], sent: dict[int, tuple[float, float]]
) -> tuple[list[float], list[float], int]:
    """Over every reader and sent message: the delay from the send's answer, from its
    request, and how many deliveries never came."""
    from_response: list[float] = []
    from_request: list[float] = []
    missing = 0
    for seen in received:
        for message_id, (asked, answered) in sent.items():
            at = seen.get(message_id)
            if at is None:
                missing += 1
            else:
                from_response.append(at - answered)
                from_request.append(at - asked)
    return from_response, from_request, missing


async def fanout_run(
    server: Server, pollers: int, rate: float, duration_s: float
) -> dict[str, Any]:
    started = time.perf_counter()
    listeners = await connected(server.port, [f"poller{i}" for i in range(pollers)])
    (sender,) = await connected(server.port, ["fanout-sender"])
    setup_s = time.perf_counter() - started
    _, health = await sender.request("GET", "/health")
    head = int(health["offset"])
    polling = LongPolls(listeners, head)
    await asyncio.sleep(2.0)  # every poll parked
    polls_before = polling.polls
    with cpu_shares(server) as usage:
        began = time.perf_counter()
        sent = await steady_sender(sender, rate, duration_s)
        sending_s = time.perf_counter() - began
        await asyncio.sleep(3.0)  # stragglers
        elapsed_s = time.perf_counter() - began
    polls_during = polling.polls - polls_before
    await polling.stop()
    for connection in (*listeners, sender):
        connection.close()
    from_response, from_request, missing = deliveries(polling.received, sent)
    send_latency = [answered - began for began, answered in sent.values()]
    return {
        "pollers": pollers,
        "messages": len(sent),
        "deliveries": len(from_response),
        "missing": missing,
        "setup_s": setup_s,
        "sending_s": sending_s,
        "polls_per_s": polls_during / elapsed_s,
        **usage,
        "delivery_from_response": percentiles_ms(from_response),
        "delivery_from_request": percentiles_ms(from_request),
        "send": percentiles_ms(send_latency),
    }


def log_counts(server: Server) -> dict[str, int]:
    """Records in the server's log by type, most frequent first (`chat-log stats`)."""
    chat_log = Path(sys.executable).with_name("chat-log")
    out = subprocess.run(
        [str(chat_log), "stats", "--json", "--log", str(server.data_dir / "events.log")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    counts: dict[str, int] = json.loads(out)["counts"]
    return dict(sorted(counts.items(), key=lambda item: -item[1])[:4])


def bench_fanout(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    runs = [(10, args.rate), *((args.pollers, rate) for rate in args.rates)]
    for pollers, rate in runs:
        profile = f"{args.profile}.fanout" if args.profile and pollers == args.pollers else None
        flags = ("--fsync", "always", "--max-connections", "20000")
        with Server(*flags, *args.server_args, profile=profile) as server:
            result = asyncio.run(fanout_run(server, pollers, rate, args.duration_s))
            result["log_counts"] = log_counts(server)
        results[f"{pollers}@{rate:g}"] = result
        late = result["delivery_from_response"]
        print(
            f"{pollers} pollers, {rate:g} msg/s: {result['deliveries']} deliveries "
            f"({result['missing']} missing), delivery p50 {late['p50_ms']:.1f} ms "
            f"p99 {late['p99_ms']:.1f} ms max {late['max_ms']:.1f} ms; "
            f"from send start p99 {result['delivery_from_request']['p99_ms']:.1f} ms; "
            f"send p99 {result['send']['p99_ms']:.1f} ms, all answered after "
            f"{result['sending_s']:.1f} s; {result['polls_per_s']:.0f} polls/s; "
            f"CPU server {result['server_cpu_share']:.0%} client {result['client_cpu_share']:.0%} "
            f"load {result['load']:.1f}; setup {result['setup_s']:.1f} s; log: "
            + ", ".join(f"{n} {name}" for name, n in result["log_counts"].items())
        )
    return results


# ------------------------------------------------------------------- (c) memory


async def open_parked(
    port: int, tokens: Sequence[bytes], count: int, head: int
) -> list[Connection]:
    """`count` connections, each with a long poll parked at the head."""

    def job(index: int) -> Callable[[], Awaitable[Connection]]:
        async def run() -> Connection:
            connection = await Connection.open(port)
            connection.auth = tokens[index % len(tokens)]
            connection.send_request("GET", f"/events?after={head}&timeout=600")
            await connection.writer.drain()
            return connection

        return run

    return await bounded([job(i) for i in range(count)], 200)


async def open_idle(port: int, count: int) -> list[Connection]:
    """`count` keep-alive connections, each idle after one `GET /health`."""

    def job() -> Callable[[], Awaitable[Connection]]:
        async def run() -> Connection:
            connection = await Connection.open(port)
            status, _ = await connection.request("GET", "/health")
            assert status == 200
            return connection

        return run

    return await bounded([job() for _ in range(count)], 200)


async def was_answered(connection: Connection) -> bool:
    """True when the server has sent something on this connection."""
    try:
        data = await asyncio.wait_for(connection.reader.read(1), 0.5)
    except TimeoutError:
        return False
    return bool(data) or connection.reader.at_eof()


def settled_rss(server: Server) -> int:
    time.sleep(1.5)
    return server.rss_kib()


async def memory_run(
    server: Server, steps: Sequence[int], parked: bool, users: int
) -> list[tuple[int, int]]:
    loop = asyncio.get_running_loop()
    logins = await connected(server.port, [f"idle{i}" for i in range(users)])
    tokens = [c.auth for c in logins]
    _, health = await logins[0].request("GET", "/health")
    for connection in logins:
        connection.close()
    head = int(health["offset"])
    points = [(0, await loop.run_in_executor(None, settled_rss, server))]
    opened: list[Connection] = []
    try:
        for total in steps:
            more = total - len(opened)
            if parked:
                opened += await open_parked(server.port, tokens, more, head)
            else:
                opened += await open_idle(server.port, more)
            points.append((total, await loop.run_in_executor(None, settled_rss, server)))
        if parked:  # none of them may have been answered: they are all still parked
            answered = sum(await asyncio.gather(*(was_answered(c) for c in opened)))
            if answered:
                raise RuntimeError(f"{answered} of {len(opened)} polls were answered early")
    finally:
        for connection in opened:
            connection.close()
    return points


def slope_kib(points: Sequence[tuple[int, int]]) -> float:
    xs = [float(n) for n, _ in points]
    ys = [float(rss) for _, rss in points]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mean_x) ** 2 for x in xs
    )


def bench_memory(args: argparse.Namespace) -> dict[str, Any]:
    limit = raise_nofile()
    wanted = args.connections + 200
    if limit < wanted:
        print(f"RLIMIT_NOFILE is {limit}: measuring {limit - 200} connections, not {wanted}")
        args.connections = limit - 200
    steps = sorted({args.connections // 4, args.connections // 2, args.connections})
    results: dict[str, Any] = {}
    for kind in ("idle", "parked"):
        flags = ["--fsync", "none", "--max-connections", str(args.connections + 100)]
        flags += ["--poll-timeout-max", "600", "--keepalive-timeout", "600"]
        with Server(*flags, *args.server_args) as server:
            points = asyncio.run(memory_run(server, steps, kind == "parked", args.users))
        results[kind] = {"points_kib": points, "per_connection_kib": slope_kib(points)}
        shown = ", ".join(f"{n}: {rss / 1024:.1f} MiB" for n, rss in points)
        print(f"{kind}: RSS {shown}; {results[kind]['per_connection_kib']:.2f} KiB per connection")
    return results


# ------------------------------------------------------------------------ main


def machine() -> dict[str, str]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    fs = subprocess.run(
        ["df", "-T", tempfile.gettempdir()], capture_output=True, text=True, check=False
    ).stdout.splitlines()[-1:]
    return {
        "cpus": str(os.cpu_count()),
        "cpu": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "tmp_fs": " ".join(fs[0].split()[:2]) if fs else "unknown",
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("which", nargs="*", help="send, fanout, memory (default: all three)")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--warmup-s", type=float, default=2.0)
    parser.add_argument("--duration-s", type=float, default=10.0)
    parser.add_argument("--pollers", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=20.0, help="messages/s with 10 pollers")
    parser.add_argument(
        "--rates",
        type=lambda text: [float(r) for r in text.split(",")],
        default=[20.0],
        help="comma-separated messages/s, one run each with --pollers",
    )
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=100, help="users behind the parked polls")
    parser.add_argument(
        "--profile",
        help="write cProfile stats of the main server to PROFILE.send / PROFILE.fanout",
    )
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument(
        "--server-args",
        type=shlex.split,
        default=[],
        help='more chat-server flags, e.g. "--cursor-flush-interval 10"',
    )
    args = parser.parse_args(argv)
    runners = {"send": bench_send, "fanout": bench_fanout, "memory": bench_memory}
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
