"""A full disk stops no server: writes are refused (507), reads go on, and it restarts.

The data directory is a small tmpfs of its own, so these tests need root (to
mount it); they are skipped with that reason otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHAT_SERVER = Path(sys.executable).with_name("chat-server")
DISK_MIB = 40
FLOOR = "8MiB"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("mount") is None,
        reason="mounting a small tmpfs as the data directory needs root",
    ),
]


@pytest.fixture
def small_disk() -> Iterator[Path]:
    mount = Path(tempfile.mkdtemp(prefix="chat-small-disk-"))
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_MIB}m,mode=0700", "tmpfs", str(mount)],
        check=True,
    )
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
        mount.rmdir()


class Server:
    def __init__(self, data_dir: Path, log: Path) -> None:
        self.data_dir = data_dir
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    def start(self) -> None:
        seen = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as log:
            self.process = self._spawn(log)
        self._wait_listening(seen)

    def _spawn(self, log: Any) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                str(CHAT_SERVER),
                *("--port", "0", "--data-dir", str(self.data_dir), "--fsync", "always"),
                *("--min-free-disk", FLOOR, "--min-password-length", "1"),
            ],
            stderr=log,
            stdin=subprocess.DEVNULL,
        )

    def _wait_listening(self, seen: int) -> None:
        assert self.process is not None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            text = self.log.read_bytes()[seen:].decode(errors="replace")
            listening = [line for line in text.splitlines() if "listening on http://" in line]
            if listening:
                self.port = int(
                    listening[-1].split("listening on http://")[1].split()[0].rsplit(":", 1)[1]
                )
                return
            if self.process.poll() is not None:
                pytest.fail(f"chat-server exited {self.process.returncode}:\n{text}")
            time.sleep(0.05)
        pytest.fail("chat-server did not start")

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=20)

    def call(
        self,
        method: str,
        path: str,
        body: object = None,
        *,
        token: str | None = None,
        raw: bytes | None = None,
    ) -> tuple[int, dict[str, Any]]:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=data, method=method
        )
        request.add_header(
            "Content-Type", "application/octet-stream" if raw else "application/json"
        )
        if token is not None:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                payload = answer.read()
                return answer.status, json.loads(payload) if payload else {}
        except urllib.error.HTTPError as refused:
            return refused.code, json.loads(refused.read() or b"{}")


def fill(path: Path) -> None:
    """Write a file until the file system is full."""
    with (path / "filler").open("wb") as out:
        chunk = b"\0" * (1 << 20)
        try:
            while True:
                out.write(chunk)
                out.flush()
        except OSError:
            pass


def test_a_full_disk_refuses_writes_keeps_reads_and_restarts(
    small_disk: Path, tmp_path: Path
) -> None:
    server = Server(small_disk / "data", tmp_path / "server.log")
    server.start()
    try:
        _, connected = server.call("POST", "/connect", {"name": "ann", "password": "pw"})
        token = connected["token"]
        status, _ = server.call("POST", "/send", {"text": "before"}, token=token)
        assert status == 201
        statuses = []
        for i in range(12):  # 5 MiB each: the 40 MiB disk reaches its floor on the way
            blob = i.to_bytes(4, "big") + os.urandom(5 * 1024 * 1024 - 4)
            status, _ = server.call("POST", "/files?name=f.bin", raw=blob, token=token)
            statuses.append(status)
        assert 201 in statuses
        assert statuses[-1] == 507, statuses  # the upload that would cross the floor
        fill(small_disk)  # someone else fills the disk to the last byte
        status, refused = server.call("POST", "/send", {"text": "full"}, token=token)
        assert (status, refused["error"]["code"]) == (507, "insufficient_storage")
        stored = ["f.bin"] * statuses.count(201) + ["before"]  # newest first
        status, history = server.call("GET", "/rooms/general/messages", token=token)
        assert status == 200
        assert [m["text"] for m in history["messages"]] == stored
        assert server.process is not None
        assert server.process.poll() is None  # still serving
        assert server.stop() == 0
        server.start()  # on the full disk: a start writes nothing
        status, history = server.call("GET", "/rooms/general/messages", token=token)
        assert status == 200  # the session outlived the restart; reading works
        assert [m["text"] for m in history["messages"]] == stored
        status, refused = server.call("POST", "/connect", {"name": "bob", "password": "pw"})
        assert (status, refused["error"]["code"]) == (507, "insufficient_storage")
        (small_disk / "filler").unlink()
        time.sleep(1.1)  # the free space is measured at most once a second
        status, _ = server.call("POST", "/send", {"text": "room again"}, token=token)
        assert status == 201
    finally:
        if server.process is not None and server.process.poll() is None:
            server.stop()
    assert "Traceback" not in server.log.read_text(errors="replace")
