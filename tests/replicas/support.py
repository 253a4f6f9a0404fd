"""Real `chat-server` replicas on one JetStream stream, driven over HTTP."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.blackbox.support import Client, Reply
from tests.nats_support import NatsServer

CHAT_SERVER = Path(sys.executable).with_name("chat-server")
LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 20.0


class ReplicaProcess:
    """One `chat-server --nats` process with its own data directory and log file."""

    def __init__(
        self,
        nats: NatsServer,
        stream: str,
        directory: Path,
        *extra: str,
        env: dict[str, str] | None = None,
    ) -> None:
        self.env = env or {}
        self.nats = nats
        self.stream = stream
        self.directory = directory
        self.extra = extra
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = directory / "server.log"
        self._clients: list[Client] = []

    def start(self) -> ReplicaProcess:
        self.directory.mkdir(parents=True, exist_ok=True)
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = open(self.log_path, "ab")  # noqa: SIM115 - the process holds it
        try:
            self.process = subprocess.Popen(
                [
                    str(CHAT_SERVER),
                    *("--port", "0", "--data-dir", str(self.directory / "data")),
                    *("--nats", self.nats.url, "--nats-stream", self.stream),
                    *("--min-password-length", "1", "--report-min-account-age", "0"),
                    *("--cursor-flush-interval", "0.05", "--shutdown-grace", "1"),
                    *self.extra,
                ],
                stdout=log,
                stderr=log,
                env={**os.environ, "CHAT_LOG_LEVEL": "INFO", **self.env},
            )
        finally:
            log.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            text = self.log_path.read_bytes()[offset:].decode("utf-8", "replace")
            if match := LISTENING.search(text):
                self.port = int(match.group(1))
                return self
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        self.stop()
        raise AssertionError(f"the replica did not start:\n{self.log_tail()}")

    def client(self, token: str | None = None) -> Client:
        """A client of this replica (closed when the replica stops)."""
        client = Client(self.port, token)
        self._clients.append(client)
        return client

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        for client in self._clients:
            client.close()
        self._clients.clear()
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self.process = None
        return code

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def log_tail(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-4000:]

    def health(self) -> dict[str, Any]:
        client = Client(self.port)
        try:
            reply = client.call("GET", "/health")
        finally:
            client.close()
        assert reply.status == 200, reply
        body: dict[str, Any] = reply.body
        return body


def wait_until(predicate: Any, what: str, timeout_s: float = 30.0) -> None:
    """Poll `predicate` until true (a readiness wait, not a timed assertion)."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"never: {what}")
        time.sleep(0.02)


def same_head(replicas: list[ReplicaProcess]) -> int:
    """Wait until every replica has followed the log to the same offset; return it."""
    heads: list[int] = []

    def converged() -> bool:
        heads[:] = [r.health()["offset"] for r in replicas]
        return len(set(heads)) == 1

    wait_until(converged, "the replicas reach the same head")
    return heads[0]


def all_events(client: Client) -> list[dict[str, Any]]:
    """Every event the client's user may see, from the start, by paging /events."""
    events: list[dict[str, Any]] = []
    after = 0
    while True:
        reply = client.events(after)
        assert reply.status == 200, reply
        events += reply.body["events"]
        if reply.body["next"] == after:
            return events
        after = reply.body["next"]


def digest(client: Client, rooms: list[str]) -> str:
    """A digest of what a user reads: their events, the history of `rooms`, their rooms."""
    parts: list[Any] = [all_events(client)]
    for room in rooms:
        reply = client.call("GET", f"/rooms/{room}/messages?limit=500")
        assert reply.status == 200, reply
        parts.append(reply.body)
    # Not the offset nor unread counts: reading acknowledges, which appends cursor moves.
    status = client.call("GET", "/status").body
    parts.append([status["log"], [{**r, "unread": None} for r in status["rooms"]]])
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def ok(reply: Reply, *statuses: int) -> Reply:
    assert reply.status in (statuses or (200, 201)), reply
    return reply
