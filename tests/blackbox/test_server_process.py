"""The `chat-server` process as a user runs it: start, refuse a second one, stop, restart."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHAT_SERVER = Path(sys.executable).with_name("chat-server")
LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")
START_TIMEOUT_S = 20.0


@contextmanager
def chat_server(data_dir: Path) -> Iterator[tuple[subprocess.Popen[str], int]]:
    process = subprocess.Popen(
        [
            str(CHAT_SERVER),
            *("--port", "0", "--data-dir", str(data_dir), "--fsync", "always"),
            *("--min-password-length", "1"),  # the test signs in with a short one
        ],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "CHAT_LOG_LEVEL": "INFO"},
    )
    try:
        assert process.stderr is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        port = None
        while port is None and time.monotonic() < deadline:
            line = process.stderr.readline()
            if not line:
                break
            if match := LISTENING.search(line):
                port = int(match.group(1))
        assert port is not None, "the server did not say where it listens"
        yield process, port
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(START_TIMEOUT_S)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            if process.stderr is not None:
                process.stderr.close()


def post(port: int, path: str, body: object, token: str | None = None) -> dict[str, object]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", json.dumps(body).encode(), headers, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def test_a_second_server_refuses_and_a_restart_keeps_everything(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with chat_server(data) as (first, port):
        token = str(post(port, "/connect", {"name": "ann", "password": "pw"})["token"])
        sent = post(port, "/send", {"text": "durable"}, token)["message"]
        second = subprocess.run(
            [str(CHAT_SERVER), "--port", "0", "--data-dir", str(data)],
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_S,
            check=False,
        )
        assert second.returncode == 1
        assert "in use" in second.stderr
        assert "Traceback" not in second.stderr
        first.send_signal(signal.SIGTERM)
        assert first.wait(START_TIMEOUT_S) == 0
    with chat_server(data) as (_, port):
        again = post(port, "/connect", {"name": "ann", "password": "pw"})
        assert [m["text"] for m in again["general"]["messages"]] == ["durable"]  # type: ignore[index]
        assert again["offset"] > sent["id"]  # type: ignore[index]
