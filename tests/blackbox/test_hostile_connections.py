"""The real `chat-server` process stopped by SIGTERM while clients are sending."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tests.blackbox.support import Client
from tests.client.real_server import ChatServer

SENDERS = 20
ANSWERS_BEFORE_SIGTERM = 3
PAUSE_S = 0.02  # between a sender's messages: its connection is idle most of the time
HANG_GUARD_S = 30.0


class Sender:
    """One user sending to general on one keep-alive connection until told to close."""

    def __init__(self, port: int, name: str) -> None:
        self.client = Client(port, timeout_s=HANG_GUARD_S)
        self.client.connect(name)
        self.name = name
        self.answers: list[tuple[str, int]] = []
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        try:
            while True:
                text = f"{self.name}-{len(self.answers)}"
                reply = self.client.send(text)
                self.answers.append((text, reply.status))
                if reply.headers.get("connection") == "close":
                    return  # the server said it closes: a complete answer, then done
                time.sleep(PAUSE_S)
        except BaseException as exc:  # a reset, a close without an answer: the failure
            self.error = exc
        finally:
            self.client.close()


def _general_texts(port: int) -> set[str]:
    reader = Client(port)
    try:
        reader.connect("reader")
        texts: set[str] = set()
        before = ""
        while True:
            page = reader.call("GET", f"/rooms/general/messages?limit=500{before}").body
            texts.update(m["text"] for m in page["messages"])
            if page["next_before"] is None:
                return texts
            before = f"&before={page['next_before']}"
    finally:
        reader.close()


@pytest.mark.slow
def test_sigterm_answers_every_request_in_flight_and_keeps_every_2xx(tmp_path: Path) -> None:
    # On SIGTERM a POST /send already in the socket of an idle keep-alive
    # connection used to get a reset (11 and 20 of 20 senders in two runs).
    server = ChatServer(tmp_path / "data", tmp_path / "server.log")
    server.start()
    try:
        senders = [Sender(server.port, f"sender{i}") for i in range(SENDERS)]
        for sender in senders:
            sender.thread.start()
        deadline = time.monotonic() + HANG_GUARD_S
        while any(len(s.answers) < ANSWERS_BEFORE_SIGTERM and s.error is None for s in senders):
            assert time.monotonic() < deadline, "the senders did not get going"
            time.sleep(0.01)
        assert server.stop() == 0, server.log_path.read_text()
        for sender in senders:
            sender.thread.join(HANG_GUARD_S)
        failed = {s.name: repr(s.error) for s in senders if s.error is not None}
        assert not failed, failed
        assert all(status in (201, 503) for s in senders for _, status in s.answers)
        stored = [text for s in senders for text, status in s.answers if status == 201]
        server.start()
        assert set(stored) <= _general_texts(server.port)
    finally:
        server.stop()
