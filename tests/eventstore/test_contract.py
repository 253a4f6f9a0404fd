"""The EventLog contract, run against every backend (memory, file and JetStream)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from eventstore import (
    EventLog,
    EventStoreError,
    FileEventLog,
    FsyncPolicy,
    JetStreamEventLog,
    MemoryEventLog,
    NewRecord,
    OffsetOutOfRangeError,
)

from .support import SAMPLE, as_stored

OpenLog = Callable[[], Awaitable[EventLog]]


@pytest.fixture(params=["memory", "file-always", "file-interval", "file-none", "jetstream"])
def open_log(request: pytest.FixtureRequest, tmp_path: Path) -> OpenLog:
    """A factory for a fresh log of each backend (call it inside the event loop)."""

    async def memory() -> EventLog:
        return MemoryEventLog()

    async def file_always() -> EventLog:
        return await FileEventLog.open(tmp_path / "events.log", fsync=FsyncPolicy.ALWAYS)

    async def file_interval() -> EventLog:
        return await FileEventLog.open(
            tmp_path / "events.log", fsync=FsyncPolicy.INTERVAL, fsync_interval_s=0.01
        )

    async def file_none() -> EventLog:
        return await FileEventLog.open(tmp_path / "events.log", fsync=FsyncPolicy.NONE)

    async def jetstream() -> EventLog:
        server = request.getfixturevalue("nats_server")
        log = await JetStreamEventLog.open(
            server.url, stream=f"T{secrets.token_hex(6)}", data_dir=tmp_path
        )
        assert await log.become_writer()
        return log

    factories: dict[str, OpenLog] = {
        "jetstream": jetstream,
        "memory": memory,
        "file-always": file_always,
        "file-interval": file_interval,
        "file-none": file_none,
    }
    return factories[request.param]


def test_a_new_log_is_empty_with_a_random_id(open_log: OpenLog) -> None:
    async def scenario() -> None:
        log = await open_log()
        assert log.head == log.durable_head == 0
        assert len(log.log_id) == 32
        int(log.log_id, 16)
        assert list(log.iter_from(0)) == []
        with pytest.raises(OffsetOutOfRangeError):
            log.read(1)
        await log.close()

    asyncio.run(scenario())


def test_offsets_are_dense_from_one_and_every_record_reads_back(open_log: OpenLog) -> None:
    async def scenario() -> None:
        log = await open_log()
        first = await log.append(SAMPLE[:1])
        rest = await log.append(SAMPLE[1:])
        stored = as_stored(SAMPLE)
        assert first + rest == stored
        assert log.head == log.durable_head == len(SAMPLE)
        assert [log.read(n) for n in range(1, len(SAMPLE) + 1)] == stored
        assert list(log.iter_from(0)) == stored
        assert list(log.iter_from(7)) == stored[7:]
        assert list(log.iter_from(-5)) == stored
        assert list(log.iter_from(len(SAMPLE))) == []
        for bad in (0, -1, len(SAMPLE) + 1):
            with pytest.raises(OffsetOutOfRangeError):
                log.read(bad)
        await log.close()

    asyncio.run(scenario())


def test_append_nowait_assigns_offsets_before_any_await(open_log: OpenLog) -> None:
    async def scenario() -> None:
        log = await open_log()
        one = log.append_nowait(SAMPLE[:2])
        two = log.append_nowait(SAMPLE[2:5])
        assert [r.offset for r in one.records] == [1, 2]
        assert [r.offset for r in two.records] == [3, 4, 5]
        assert log.head == 5
        assert log.durable_head <= log.head
        await two.wait_durable()
        await one.wait_durable()
        assert log.durable_head == 5
        assert list(log.iter_from(0)) == as_stored(SAMPLE[:5])
        await log.close()

    asyncio.run(scenario())


def test_an_empty_batch_appends_nothing(open_log: OpenLog) -> None:
    async def scenario() -> None:
        log = await open_log()
        assert await log.append([]) == []
        assert log.head == 0
        await log.close()

    asyncio.run(scenario())


def test_the_log_refuses_appends_once_closed(open_log: OpenLog) -> None:
    async def scenario() -> None:
        log = await open_log()
        await log.append(SAMPLE[:3])
        await log.close()
        with pytest.raises(EventStoreError):
            log.append_nowait(SAMPLE[3:4])
        await log.close()  # closing twice is harmless

    asyncio.run(scenario())


def test_stored_data_is_a_copy_of_the_callers_mapping(open_log: OpenLog) -> None:
    async def scenario() -> None:
        log = await open_log()
        data = {"room": "general", "text": "before"}
        await log.append([NewRecord(ts=1.0, name="message.sent.v1", data=data)])
        data["text"] = "after"
        assert log.read(1).data["text"] == "before"
        await log.close()

    asyncio.run(scenario())
