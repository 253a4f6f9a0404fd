"""A read-only view of a live log for a snapshot taker in another process."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from eventstore import EventStoreError, FileEventLog, FsyncPolicy, NewRecord, ReadOnlyLog

VERSION = "app-1"


def records(count: int, start: int = 0) -> list[NewRecord]:
    return [NewRecord(ts=1.0 + n, name="e.v1", data={"n": n}) for n in range(start, start + count)]


def test_the_view_reads_up_to_its_offset_while_the_writer_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "events.log"

    async def scenario() -> None:
        async with await FileEventLog.open(
            path, fsync=FsyncPolicy.NONE, segment_max_bytes=2_000
        ) as log:
            for start in range(0, 200, 10):
                await log.append(records(10, start))
            with ReadOnlyLog(str(path), upto=150) as view:
                await log.append(records(50, 200))  # rolls segments under the view
                assert view.log_id == log.log_id
                assert [r.offset for r in view.iter_from(120)] == list(range(121, 151))
                assert view.read(150).data == {"n": 149}
                assert view.payload_checksum(150) == log.payload_checksum(150)
                assert view.payload_checksum(151) is None
                view.snapshot_store().write(150, b"state", VERSION)
            snapshot = log.snapshot_store().load_newest(VERSION)
            assert snapshot is not None
            assert (snapshot.offset, snapshot.payload) == (150, b"state")

    asyncio.run(scenario())


def test_the_view_refuses_an_offset_past_the_end_of_the_log(tmp_path: Path) -> None:
    path = tmp_path / "events.log"

    async def scenario() -> None:
        async with await FileEventLog.open(path, fsync=FsyncPolicy.NONE) as log:
            await log.append(records(5))
        with pytest.raises(EventStoreError, match="ends at 5"):
            ReadOnlyLog(str(path), upto=6)

    asyncio.run(scenario())
