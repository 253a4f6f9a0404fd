"""Opening a data directory: what the service refuses to start on, and says why."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from app import StartupError, open_service
from eventstore import FileEventLog, FsyncPolicy, NewRecord
from tests.blackbox.support import fast_settings


async def _write(path: Path, records: list[NewRecord]) -> None:
    log = await FileEventLog.open(path, fsync=FsyncPolicy.NONE)
    await log.append(records)
    await log.close()


@pytest.mark.parametrize(
    ("name", "data", "why"),
    [
        ("message.sent.v7", {"room": "general", "author": "a", "text": "t"}, "unknown event"),
        ("message.sent.v1", {"room": "general", "author": "a", "text": 5}, "wrong type"),
        ("cursor.moved.v1", {"user": "a"}, "missing"),
    ],
)
def test_an_unreadable_event_stops_the_start_naming_its_offset(
    tmp_path: Path, name: str, data: dict[str, object], why: str
) -> None:
    good = NewRecord(
        ts=1.0,
        name="room.created.v1",
        data={"room": "general", "kind": "general", "name": "general", "members": []},
    )
    asyncio.run(_write(tmp_path / "events.log", [good, NewRecord(ts=2.0, name=name, data=data)]))
    with pytest.raises(StartupError, match="offset 2") as info:
        asyncio.run(open_service(fast_settings(tmp_path)))
    assert why in str(info.value)
    # and the log was released: a fixed build could open it again
    asyncio.run(_write(tmp_path / "events.log", []))
