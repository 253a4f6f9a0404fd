"""`GET /events/stream` over a real socket: SSE as documented, resuming, limits, slow readers."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from app import Budget
from tests.blackbox.support import LiveServer, live_server

WAIT_S = 10.0  # a deadline for what must happen, never a measurement
UNLIMITED: dict[str, Any] = {"rate_limit": 10_000, "budget_messages": Budget(requests=10**9)}
T = TypeVar("T")


class SseClient:
    """One stream on a connection of its own, read with http.client (chunked decoding)."""

    def __init__(
        self,
        port: int,
        token: str | None,
        target: str,
        *,
        receive_buffer: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT_S)
        if receive_buffer is not None:  # set before connecting, so that the window is small
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
            sock.settimeout(WAIT_S)
            sock.connect(("127.0.0.1", port))
            self.conn.sock = sock
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        self.conn.request("GET", target, headers=sent)
        self.response = self.conn.getresponse()
        self.buffer = ""
        self.events: list[dict[str, str]] = []
        self.comments = 0

    def json(self) -> Any:
        return json.loads(self.response.read())

    def read_until(self, done: Callable[[SseClient], bool]) -> None:
        deadline = time.monotonic() + WAIT_S
        while not done(self):
            assert time.monotonic() < deadline, f"timed out with {self.events}"
            data = self.response.read1(65536)
            assert data, "the stream ended"
            self.buffer += data.decode("utf-8")
            while "\n\n" in self.buffer:
                block, self.buffer = self.buffer.split("\n\n", 1)
                fields: dict[str, str] = {}
                for line in block.split("\n"):
                    if line.startswith(":"):
                        self.comments += 1
                        continue
                    name, _, value = line.partition(": ")
                    fields[name] = fields[name] + "\n" + value if name in fields else value
                if fields:
                    self.events.append(fields)

    def messages(self) -> list[str]:
        return [
            json.loads(e["data"])["message"]["text"]
            for e in self.events
            if e.get("event") == "message.sent"
        ]

    def close(self) -> None:
        self.conn.close()


def on_server(server: LiveServer, call: Callable[[], T]) -> T:
    async def run() -> T:
        return call()

    return asyncio.run_coroutine_threadsafe(run(), server.loop).result(WAIT_S)


def eventually(check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        assert time.monotonic() < deadline
        time.sleep(0.02)


def streams_of(server: LiveServer, user: str) -> int:
    assert server.service is not None
    waiters = server.service.polling.waiters
    return on_server(server, lambda: waiters.parked(user))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    with live_server(tmp_path / "data", stream_heartbeat_s=0.05) as running:
        yield running


def test_each_visible_event_is_one_sse_event_with_the_json_of_events(server: LiveServer) -> None:
    alice, bob = server.client(), server.client()
    alice.connect("alice")
    head = bob.connect("bob").body["offset"]
    alice.send("<img src=x onerror=alert(1)>\nline two")
    alice.send("for carol", to="bob")
    stream = SseClient(server.port, bob.token, f"/events/stream?after={head}")
    assert stream.response.status == 200
    assert stream.response.getheader("Content-Type") == "text/event-stream; charset=utf-8"
    assert stream.response.getheader("Cache-Control") == "no-store, no-transform"
    stream.read_until(lambda s: len(s.messages()) == 2)
    polled = bob.events(head).body["events"]
    sent = [e for e in stream.events if "event" in e]
    assert [json.loads(e["data"]) for e in sent] == polled
    assert [(int(e["id"]), e["event"]) for e in sent] == [(p["offset"], p["type"]) for p in polled]
    alice.send("live")
    stream.read_until(lambda s: "live" in s.messages())
    stream.read_until(lambda s: s.comments >= 2)  # the opening comment, then heartbeats
    stream.close()


def test_last_event_id_resumes_and_wins_over_after(server: LiveServer) -> None:
    alice = server.client()
    head = alice.connect("alice").body["offset"]
    first = alice.send("one").body["message"]["id"]
    alice.send("two")
    resumed = {"Last-Event-ID": str(first)}
    stream = SseClient(server.port, alice.token, f"/events/stream?after={head}", headers=resumed)
    stream.read_until(lambda s: bool(s.messages()))
    assert stream.messages() == ["two"]
    stream.close()


@pytest.mark.parametrize(
    ("target", "headers", "status", "code"),
    [
        ("/events/stream", {}, 400, "validation_failed"),
        ("/events/stream?after=x", {}, 400, "validation_failed"),
        ("/events/stream?after=0", {"Last-Event-ID": "-1"}, 400, "validation_failed"),
        ("/events/stream?after=-1", {"Last-Event-ID": "1"}, 400, "validation_failed"),
        ("/events/stream?after=0&log=other", {}, 409, "log_mismatch"),
        ("/events/stream?after=100000", {}, 409, "offset_out_of_range"),
    ],
)
def test_a_stream_that_cannot_open_is_an_error_like_a_polls(
    server: LiveServer, target: str, headers: dict[str, str], status: int, code: str
) -> None:
    alice = server.client()
    alice.connect("alice")
    stream = SseClient(server.port, alice.token, target, headers=headers)
    assert stream.response.status == status
    assert stream.json()["error"]["code"] == code
    stream.close()
    unauthorized = SseClient(server.port, None, "/events/stream?after=0")
    assert unauthorized.response.status == 401
    unauthorized.close()


def test_a_client_that_goes_away_frees_its_place(server: LiveServer) -> None:
    alice = server.client()
    head = alice.connect("alice").body["offset"]
    stream = SseClient(server.port, alice.token, f"/events/stream?after={head}")
    stream.read_until(lambda s: s.comments >= 1)
    assert streams_of(server, "alice") == 1
    stream.close()
    eventually(lambda: streams_of(server, "alice") == 0)


def test_a_revoked_session_ends_its_stream(server: LiveServer) -> None:
    alice, phone = server.client(), server.client()
    alice.connect("alice")
    head = phone.connect("alice").body["offset"]
    stream = SseClient(server.port, phone.token, f"/events/stream?after={head}")
    stream.read_until(lambda s: s.comments >= 1)
    sessions = alice.call("GET", "/sessions").body["sessions"]
    other = next(s["id"] for s in sessions if not s["current"])
    assert alice.call("DELETE", f"/sessions/{other}").status == 204
    with pytest.raises(AssertionError, match="the stream ended"):
        stream.read_until(lambda s: False)
    stream.close()


@pytest.mark.slow  # a quiet stretch longer than the grace: about 4 s
def test_an_idle_stream_is_not_cut_by_the_minimum_rate_then_takes_a_burst(tmp_path: Path) -> None:
    # Small buffers and a short grace: a burst after a quiet stretch, read a moment later,
    # makes the server wait for the client to take more. The rate is counted from the
    # burst, not from the start of the stream (which would be long past its deadline).
    limits = {
        "send_buffer_bytes": 4096,
        "response_grace_s": 1.5,
        "response_min_rate_bytes_per_s": 1024 * 1024,
        "stream_heartbeat_s": 60.0,
        **UNLIMITED,
    }
    with live_server(tmp_path / "data", **limits) as server:
        alice = server.client()
        head = alice.connect("alice").body["offset"]
        stream = SseClient(
            server.port, alice.token, f"/events/stream?after={head}", receive_buffer=4096
        )
        stream.read_until(lambda s: s.comments >= 1)
        time.sleep(2.5)  # quiet for longer than the grace
        texts = [f"{i:04d} " + "x" * 3000 for i in range(80)]  # 240 KB, not read meanwhile
        for text in texts:
            alice.send(text)
        time.sleep(0.5)  # the server waits for the client to take more (its deadline runs)
        stream.read_until(lambda s: len(s.messages()) == len(texts))
        assert stream.messages() == texts
        stream.close()


def test_a_stream_that_is_not_read_is_closed_not_buffered(tmp_path: Path) -> None:
    limits = {
        "send_buffer_bytes": 4096,
        "response_grace_s": 0.1,
        "write_timeout_s": 0.5,
        **UNLIMITED,
    }
    with live_server(tmp_path / "data", **limits) as server:
        alice = server.client()
        head = alice.connect("alice").body["offset"]
        reader = socket.create_connection(("127.0.0.1", server.port))
        reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        reader.sendall(
            f"GET /events/stream?after={head} HTTP/1.1\r\nHost: t\r\n"
            f"Authorization: Bearer {alice.token}\r\n\r\n".encode()
        )
        eventually(lambda: streams_of(server, "alice") == 1)
        for i in range(200):  # ~600 KB it never reads
            alice.send(f"{i} " + "y" * 3000)
            if streams_of(server, "alice") == 0:
                break
        eventually(lambda: streams_of(server, "alice") == 0)
        reader.close()
