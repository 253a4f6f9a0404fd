"""A JetStream log with a small window: older offsets are read from the stream after `load`."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import pytest

from eventstore import JetStreamEventLog, NewRecord, NotLoadedError, OffsetOutOfRangeError
from tests.nats_support import NatsServer

from .support import as_stored

WINDOW = 64 * 1024


def notes(count: int) -> list[NewRecord]:
    return [
        NewRecord(ts=1_700_000_000.0 + n, name="note.v1", data={"n": n, "t": "x" * 1000})
        for n in range(count)
    ]


def test_a_writer_and_a_follower_hold_a_window_and_load_older_rounds(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    records = notes(300)  # about 300 KB: several windows

    async def open_log(name: str) -> JetStreamEventLog:
        (tmp_path / name).mkdir()
        return await JetStreamEventLog.open(
            nats_server.url, stream=stream, data_dir=tmp_path / name, window_bytes=WINDOW
        )

    async def scenario() -> None:
        writer = await open_log("writer")
        assert await writer.become_writer()
        for start in range(0, len(records), 10):
            await writer.append(records[start : start + 10])
        follower = await open_log("follower")  # reads the whole stream, keeps the window
        try:
            for log in (writer, follower):
                assert log.durable_head == len(records)
                assert log.window_bytes <= WINDOW
                assert log.read(len(records)) == as_stored(records)[-1]  # the newest: held
                with pytest.raises(NotLoadedError):
                    log.read(1)
                with pytest.raises(NotLoadedError):
                    list(log.iter_from(0))
                await log.load(0, len(records))
                assert [log.read(n) for n in (1, 2, 150)] == [
                    as_stored(records)[n - 1] for n in (1, 2, 150)
                ]
                assert list(log.iter_from(0)) == as_stored(records)
                assert log.fetched_messages > 0
                with pytest.raises(OffsetOutOfRangeError):
                    log.read(len(records) + 1)
        finally:
            await follower.close()
            await writer.close()

    stream = f"T{secrets.token_hex(6)}"
    asyncio.run(scenario())
