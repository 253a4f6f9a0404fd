"""`chat-log copy` between a file log and a JetStream stream, and `chat-log dump --nats`."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import select
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import nats
import pytest

from eventstore import JetStreamEventLog, NewRecord
from eventstore.cli import main
from eventstore.jetstream_setup import subject_of
from tests.nats_support import NatsServer

from .support import SAMPLE, as_stored, read_log, write_log

CHAT_LOG = Path(sys.executable).with_name("chat-log")


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


def copied_stream(nats_server: NatsServer, tmp_path: Path, records: int | None = None) -> str:
    """A new stream holding SAMPLE (or `records` generated ones), copied from a file log."""
    source = tmp_path / "source.log"
    write_log(source, SAMPLE if records is None else many(records), batch=3)
    stream = f"T{secrets.token_hex(6)}"
    assert main(["copy", str(source), nats_server.url, "--stream", stream]) == 0
    return stream


def many(count: int) -> list[NewRecord]:
    return [NewRecord(ts=1_700_000_000.0 + n, name="note.v1", data={"n": n}) for n in range(count)]


def test_verify_stats_and_tail_read_a_stream_as_they_read_a_file_log(
    nats_server: NatsServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stream = copied_stream(nats_server, tmp_path)
    capsys.readouterr()
    nats = ["--nats", nats_server.url, "--stream", stream]
    assert main(["verify", *nats]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ok: ")
    assert f"{len(SAMPLE)} records" in out
    assert main(["stats", *nats, "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["records"] == len(SAMPLE)
    assert stats["counts"] == dict(Counter(r.name for r in SAMPLE))
    assert stats["first_time"] is not None
    assert main(["stats", *nats]) == 0
    assert f"records      {len(SAMPLE)}" in capsys.readouterr().out
    assert main(["tail", *nats, "-n", "3", "--json"]) == 0
    tailed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [t["offset"] for t in tailed] == [len(SAMPLE) - 2, len(SAMPLE) - 1, len(SAMPLE)]


def test_a_stream_of_many_messages_is_read_batch_by_batch(
    nats_server: NatsServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stream = copied_stream(nats_server, tmp_path, records=3000)  # 1000 per message: 3 rounds
    capsys.readouterr()
    nats = ["--nats", nats_server.url, "--stream", stream]
    assert main(["dump", *nats, "--json", "--from", "2990"]) == 0
    dumped = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [d["offset"] for d in dumped] == list(range(2990, 3001))
    back = tmp_path / "back.log"
    assert main(["copy", nats_server.url, str(back), "--stream", stream]) == 0
    assert read_log(back)[1] == as_stored(many(3000))


def test_verify_and_stats_report_a_message_that_is_not_a_round(
    nats_server: NatsServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stream = copied_stream(nats_server, tmp_path)

    async def publish_junk() -> None:
        nc = await nats.connect(nats_server.url)
        try:
            await nc.jetstream().publish(subject_of(stream), b"junk", stream=stream)
        finally:
            await nc.close()

    asyncio.run(publish_junk())
    capsys.readouterr()
    nats_args = ["--nats", nats_server.url, "--stream", stream]
    assert main(["verify", *nats_args]) == 1
    out = capsys.readouterr().out
    assert out.startswith("problem: ")
    assert f"sequence {2 + 2}" in out  # the genesis, the copy's fence, its round, the junk
    assert main(["stats", *nats_args, "--json"]) == 1
    assert "Chat-Round" in capsys.readouterr().err


def test_tail_follows_a_stream_until_interrupted(nats_server: NatsServer, tmp_path: Path) -> None:
    stream = copied_stream(nats_server, tmp_path)
    command = [str(CHAT_LOG), "tail", "--nats", nats_server.url, "--stream", stream]
    follower = subprocess.Popen(
        [*command, "-f", "-n", "1", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    lines = Lines(follower)
    try:
        assert json.loads(lines.next())["offset"] == len(SAMPLE)

        async def append() -> None:
            log = await JetStreamEventLog.open(nats_server.url, stream=stream, data_dir=tmp_path)
            try:
                assert await log.become_writer()
                await log.append(many(2))
            finally:
                await log.close()

        asyncio.run(append())
        offsets = [json.loads(lines.next())["offset"] for _ in range(2)]
        assert offsets == [len(SAMPLE) + 1, len(SAMPLE) + 2]
        follower.send_signal(signal.SIGINT)
        assert follower.wait(30) == 0, follower.stderr
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()
        assert follower.stdout is not None
        assert follower.stderr is not None
        follower.stdout.close()
        follower.stderr.close()


class Lines:
    """The lines a process prints, each waited for up to `timeout_s` (a readiness wait)."""

    def __init__(self, process: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
        assert process.stdout is not None
        self._fd = process.stdout.fileno()
        self._timeout_s = timeout_s
        self._buffer = b""

    def next(self) -> str:
        while b"\n" not in self._buffer:
            ready, _, _ = select.select([self._fd], [], [], self._timeout_s)
            assert ready, "no line from chat-log"
            chunk = os.read(self._fd, 65536)
            assert chunk, "chat-log ended"
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode()
