"""The real `chat-server` as a subprocess, and `chat` runs against it (synchronous helpers).

Steps run in this process (`run_chat`); `Watcher` is a `chat watch` of its
own, left running beside them.
"""

from __future__ import annotations

import json
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from tests.client.support import CHAT, Result, chat_env, run_chat

SERVER = (sys.executable, "-c", "import sys; from transport.cli import main; sys.exit(main())")
_LISTENING = re.compile(r"listening on (http://[^\s]+)")
START_TIMEOUT_S = 20.0


class ChatServer:
    """`chat-server --port P --data-dir DIR`, its log in a file; restartable on the same port."""

    def __init__(self, data_dir: Path, log_path: Path, *args: str) -> None:
        self.data_dir = data_dir
        self.log_path = log_path
        self.args = args  # more flags
        self.url = ""
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> None:
        """Start (on the port of the previous run, if any) and wait for its URL."""
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self._log = self.log_path.open("ab")
        self._proc = subprocess.Popen(
            [
                *SERVER,
                "--port", str(self.port),
                "--data-dir", str(self.data_dir),
                "--fsync", "none",
                "--rate-limit", "10000",
                "--cursor-flush-interval", "100ms",
                "--min-password-length", "1",
                "--report-min-account-age", "0",
                "--budget-registrations", "1000000000/1s",
                *self.args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            env=chat_env(self.data_dir.parent),
        )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            with self.log_path.open("rb") as log:
                log.seek(offset)
                match = _LISTENING.search(log.read().decode("utf-8", "replace"))
            if match is not None:
                self.url = match[1]
                self.port = int(self.url.rsplit(":", 1)[1].rstrip("/"))
                return
            if self._proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"chat-server did not start:\n{self.log_path.read_text()}")

    def stop(self) -> int | None:
        """SIGTERM and wait (kill after a while); the exit status."""
        proc, self._proc = self._proc, None
        status = None
        if proc is not None:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                status = proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        return status

    def restart(self) -> None:
        """Stop and start again with the same data directory and port."""
        status = self.stop()
        assert status == 0, self.log_path.read_text()
        self.start()


def connect(home: Path, server: ChatServer, name: str, password: str = "pw", *args: str) -> Result:
    """`chat connect NAME --server URL --password-stdin`, which must succeed."""
    result = run_chat(
        home, "connect", name, "--server", server.url, "--password-stdin", *args, stdin=password
    )
    assert result.rc == 0, result.err
    return result


class Watcher:
    """`chat watch --json` running in the background; lines are collected by a thread."""

    def __init__(self, home: Path, *args: str) -> None:
        self.proc = subprocess.Popen(
            [*CHAT, "watch", "--json", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=chat_env(home),
        )
        self.events: list[dict[str, Any]] = []
        self._lines: queue.Queue[bytes | None] = queue.Queue()
        self._err = b""
        self._threads = [
            threading.Thread(target=self._pump, daemon=True),
            threading.Thread(target=self._pump_err, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _pump_err(self) -> None:
        assert self.proc.stderr is not None
        self._err = self.proc.stderr.read()

    def wait_for(
        self, done: Callable[[list[dict[str, Any]]], bool], timeout_s: float = 20.0
    ) -> list[dict[str, Any]]:
        """Collect events until `done(events)`; all events so far.

        Raises AssertionError on timeout or when watch ends first.
        """
        deadline = time.monotonic() + timeout_s
        while not done(self.events):
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"timed out; saw {self.events}"
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            assert line is not None, f"watch ended: {self.stop_and_stderr()}"
            self.events.append(json.loads(line))
        return self.events

    def texts(self) -> list[str]:
        """The texts of the messages seen so far."""
        return [e["message"]["text"] for e in self.events if e["type"] == "message.sent"]

    def stop(self) -> str:
        """Ctrl-C; must exit 0. Returns what it wrote on stderr."""
        self.proc.send_signal(signal.SIGINT)
        status = self.proc.wait(timeout=15)
        for thread in self._threads:
            thread.join(timeout=5)
        self._close()
        assert status == 0, self._err.decode()
        return self._err.decode()

    def stop_and_stderr(self) -> str:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for thread in self._threads:
            thread.join(timeout=5)
        self._close()
        return self._err.decode()

    def _close(self) -> None:
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


def has_texts(*texts: str) -> Callable[[list[dict[str, Any]]], bool]:
    """A `Watcher.wait_for` condition: every text was seen in a message."""

    def done(events: list[dict[str, Any]]) -> bool:
        seen = {e["message"]["text"] for e in events if e["type"] == "message.sent"}
        return set(texts) <= seen

    return done
