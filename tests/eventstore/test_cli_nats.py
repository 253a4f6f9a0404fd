"""`chat-log copy` between a file log and a JetStream stream, and `chat-log dump --nats`."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from eventstore.cli import main
from tests.nats_support import NatsServer

from .support import SAMPLE, as_stored, read_log, write_log


def test_a_file_log_copied_into_a_stream_and_back_keeps_offsets_and_log_id(
    nats_server: NatsServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "events.log"
    log_id = write_log(source, SAMPLE, batch=3)
    stream = f"T{secrets.token_hex(6)}"
    assert main(["copy", str(source), nats_server.url, "--stream", stream]) == 0
    assert main(["dump", "--nats", nats_server.url, "--stream", stream, "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    dumped = [json.loads(line) for line in lines if line.startswith("{")]
    assert [d["offset"] for d in dumped] == list(range(1, len(SAMPLE) + 1))
    back = tmp_path / "back.log"
    assert main(["copy", nats_server.url, str(back), "--stream", stream]) == 0
    assert read_log(back) == (log_id, as_stored(SAMPLE))
    # A stream that is not empty is never written over.
    assert main(["copy", str(source), nats_server.url, "--stream", stream]) == 1
