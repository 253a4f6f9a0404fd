"""kill -9 in the middle of a snapshot write or of a compaction: nothing acknowledged is lost.

A real `chat-server` (and its snapshot child) in a process group of its
own; a test-only variable holds the child with its temporary snapshot file
written but not renamed, or the store with its `.compact` file half
written, and the test kills the whole group with SIGKILL there, as a
power cut or the OOM killer would. The next start must be correct: every
acknowledged message is there, and the log verifies.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.blackbox.support import Client

CHAT_SERVER = Path(sys.executable).with_name("chat-server")
CHAT_LOG = Path(sys.executable).with_name("chat-log")
LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+) .* snapshot=(\w+)")
WAIT_S = 60.0

pytestmark = pytest.mark.slow


class Server:
    """A chat-server process whose stderr is read (so it never blocks) and kept."""

    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        self.lines: list[str] = []
        self.listening = threading.Event()
        self.port = 0
        self.snapshot = ""
        self.process = subprocess.Popen(
            [
                str(CHAT_SERVER),
                *("--port", "0", "--data-dir", str(data_dir), "--fsync", "always"),
                *("--min-password-length", "1", "--rate-limit", "100000"),
                *("--budget-messages", "100000"),
                *("--snapshot-every", "30", "--snapshot-interval", "0"),
                *("--segment-max-size", "4096", "--cursor-flush-interval", "0"),
            ],
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "CHAT_LOG_LEVEL": "INFO", **env},
            start_new_session=True,  # the server and its snapshot child, killed together
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        assert self.listening.wait(WAIT_S), "the server did not start:\n" + "".join(self.lines)

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)
            if match := LISTENING.search(line):
                self.port, self.snapshot = int(match.group(1)), match.group(2)
                self.listening.set()

    def kill_group(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(WAIT_S)
        self._reader.join(WAIT_S)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(WAIT_S)
        self._reader.join(WAIT_S)
        return code


@contextmanager
def server(data_dir: Path, **env: str) -> Iterator[Server]:
    running = Server(data_dir, env)
    try:
        yield running
    finally:
        if running.process.poll() is None:
            running.kill_group()
        if running.process.stderr is not None:
            running.process.stderr.close()


def chat_until(client: Client, reader: Client, happened: Callable[[], bool]) -> list[str]:
    """Send (and read, so cursors move) until `happened`, then ten more; the texts acknowledged."""
    sent: list[str] = []
    deadline = time.monotonic() + WAIT_S
    more = 10
    while more:
        text = f"message {len(sent)}"
        assert client.send(text).status == 201
        sent.append(text)
        assert reader.events(after=int(reader.call("GET", "/status").body["offset"])).status == 200
        if happened():
            more -= 1
        assert time.monotonic() < deadline, "what the test waits for did not happen"
    return sent


def history(client: Client) -> list[str]:
    """Every message of `general`, oldest first (page by page)."""
    texts: list[str] = []
    query = "limit=500"
    while True:
        reply = client.call("GET", f"/rooms/general/messages?{query}")
        assert reply.status == 200
        texts += [m["text"] for m in reply.body["messages"]]
        if reply.body["next_before"] is None:
            return texts[::-1]
        query = f"limit=500&before={reply.body['next_before']}"


def restart_and_check(data: Path, sent: list[str]) -> Server:
    with server(data) as again:
        client = Client(again.port)
        try:
            assert client.connect("ann").status == 200
            assert history(client) == sent  # every acknowledged message
        finally:
            client.close()
        assert again.stop() == 0
    verify = subprocess.run(
        [str(CHAT_LOG), "verify", "--log", str(data / "events.log")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    return again


def crash_while(data: Path, happened: Callable[[], bool], **env: str) -> list[str]:
    """Chat until `happened` (and a little more), then kill -9 the server and its child."""
    with server(data, **env) as first:
        writer, reader = Client(first.port), Client(first.port)
        try:
            assert writer.connect("ann").status == 201  # registered
            assert reader.connect("bob").status == 201
            sent = chat_until(writer, reader, happened)
        finally:
            writer.close()
            reader.close()
        first.kill_group()
    assert happened()
    return sent


def test_kill_9_while_a_snapshot_is_being_written(tmp_path: Path) -> None:
    data = tmp_path / "data"
    snapshots = data / "events.log" / "snapshots"

    def half_written() -> bool:
        return snapshots.is_dir() and any(".tmp-" in p.name for p in snapshots.iterdir())

    sent = crash_while(data, half_written, CHAT_TEST_SNAPSHOT_PAUSE_S="600")
    again = restart_and_check(data, sent)
    assert again.snapshot == "none"  # the half-written one was never a snapshot
    assert not half_written()  # swept by the next write


def test_kill_9_while_a_segment_is_being_compacted(tmp_path: Path) -> None:
    data = tmp_path / "data"
    log = data / "events.log"

    def half_compacted() -> bool:
        return any(log.glob("*.compact"))

    sent = crash_while(data, half_compacted, CHAT_TEST_COMPACTION_PAUSE_S="600")
    again = restart_and_check(data, sent)
    assert again.snapshot != "none"  # the snapshot before the compaction was whole
    assert not half_compacted()  # the leftover went at the next open
