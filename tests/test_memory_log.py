"""The in-memory log honours the EventLog contract the app relies on."""

from __future__ import annotations

import asyncio

import pytest

from eventstore import EventLog, MemoryEventLog, NewRecord, OffsetOutOfRangeError


def test_offsets_are_dense_from_one_and_readable() -> None:
    async def scenario() -> None:
        log: EventLog = MemoryEventLog()
        first = await log.append([NewRecord(ts=1.0, name="a.v1", data={"x": 1})])
        pending = log.append_nowait(
            [NewRecord(ts=2.0, name="b.v1"), NewRecord(ts=3.0, name="c.v1")]
        )
        assert [r.offset for r in first + pending.records] == [1, 2, 3]
        await pending.wait_durable()
        assert log.durable_head == log.head == 3
        assert log.read(2).name == "b.v1"
        assert [r.offset for r in log.iter_from(1)] == [2, 3]
        with pytest.raises(OffsetOutOfRangeError):
            log.read(4)
        await log.close()

    asyncio.run(scenario())
