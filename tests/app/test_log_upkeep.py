"""Background snapshots, cursor compaction and retention, as the running server does them.

A service on a real data directory with small segments: users talk and read
(every read persists a cursor move), a snapshot is taken by the child
process, and the sealed segments below it lose their superseded cursor
moves. Polls from any offset (from the log, once the server restarted) and
history then answer as before, except for the dropped cursor moves; after
retention a poll from before the log's first offset is told to resync.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest

from app import ChatService, EventsPage, Session, Settings, open_service
from domain import OffsetOutOfRangeError
from eventstore import FileEventLog
from tests.app.support import FakeClock, login, send
from tests.blackbox.support import fast_settings, live_server

CURSOR_MOVED = "cursor.moved"


def settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"snapshot_every_events": 0, "snapshot_interval_s": 0.0}
    values |= {"segment_max_bytes": 4096, "rate_limit": 1000}
    return fast_settings(data_dir, **values | overrides)


async def talk(service: ChatService, clock: FakeClock, rounds: int) -> tuple[Session, Session]:
    """Bob writes, Ann reads on her phone; Ann's laptop is the session that polls later."""
    bob, phone = await login(service, "bob"), await login(service, "ann")
    laptop = await login(service, "ann")
    for n in range(rounds):
        clock.advance(1.0)
        await send(service, bob, f"message {n}")
        await service.polling.poll(phone, after=service.health().offset, timeout_s=0)
        await service.polling.flush()
    return bob, laptop


def file_log(service: ChatService) -> FileEventLog:
    log = service.core.event_log
    assert isinstance(log, FileEventLog)
    return log


async def every_poll(service: ChatService, session: Session) -> list[EventsPage]:
    return [
        await service.polling.poll(session, after=after, timeout_s=0, limit=1000)
        for after in range(service.health().offset)
    ]


def without_cursor_moves(pages: list[EventsPage]) -> list[tuple[list[int], int]]:
    return [([e.offset for e in p.events if e.type != CURSOR_MOVED], p.next) for p in pages]


def test_compaction_keeps_every_answer_but_the_superseded_cursor_moves(tmp_path: Path) -> None:
    data, copy = tmp_path / "data", tmp_path / "copy"
    clock = FakeClock()

    async def answers(data_dir: Path, sessions: dict[str, Session]) -> dict[str, Any]:
        """Every poll and the history, from a restarted server (its polls read the log)."""
        service = await open_service(settings(data_dir), clock=clock)
        try:
            assert service.snapshots.started_from == service.core.durable_head
            found: dict[str, Any] = {w: await every_poll(service, s) for w, s in sessions.items()}
            found["history"] = await service.messages.history(
                sessions["bob"], "general", before=None, limit=500
            )
            return found
        finally:
            await service.close()

    async def scenario() -> None:
        service = await open_service(settings(data), clock=clock)
        bob, laptop = await talk(service, clock, rounds=60)
        await service.close()
        shutil.copytree(data, copy)  # the same log, never compacted

        service = await open_service(settings(data), clock=clock)
        log = file_log(service)
        assert await service.snapshots.take()  # the child process, then compaction
        assert any(s.compacted for s in log.segments)
        holes = log.head - sum(s.records for s in log.segments)
        assert holes > 0
        await service.close()

        sessions = {"bob": bob, "ann": laptop}
        compacted, whole = await answers(data, sessions), await answers(copy, sessions)
        assert compacted["bob"] == whole["bob"]  # Bob never sees Ann's cursor moves
        assert compacted["history"] == whole["history"]
        assert without_cursor_moves(compacted["ann"]) == without_cursor_moves(whole["ann"])
        moves = [
            {e.offset for p in pages for e in p.events if e.type == CURSOR_MOVED}
            for pages in (whole["ann"], compacted["ann"])
        ]
        assert moves[1] < moves[0]
        assert len(moves[0] - moves[1]) == holes

    asyncio.run(scenario())


def test_after_retention_a_poll_from_before_the_log_is_told_to_resync(tmp_path: Path) -> None:
    data = tmp_path / "data"
    clock = FakeClock()

    async def scenario() -> None:
        service = await open_service(settings(data, retain_s=1.0), clock=clock)
        bob, laptop = await talk(service, clock, rounds=40)
        assert await service.snapshots.take()
        await talk(service, clock, rounds=40)
        assert await service.snapshots.take()  # two snapshots: retention may go below one
        first = file_log(service).first_offset
        assert first > 1
        await service.close()
        # Restarted, the server holds no old events in memory: polls read the log.
        service = await open_service(settings(data), clock=clock)
        try:
            with pytest.raises(OffsetOutOfRangeError, match="no longer kept"):
                await service.polling.poll(laptop, after=first - 2, timeout_s=0)
            page = await service.polling.poll(laptop, after=first - 1, timeout_s=0)
            assert page.next == service.health().offset
            history = await service.messages.history(bob, "general", before=None, limit=500)
            assert len(history.messages) == 80
        finally:
            await service.close()

    asyncio.run(scenario())


def test_the_api_answers_a_poll_from_before_the_log_with_offset_out_of_range(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    clock = FakeClock()

    async def prepare() -> None:
        service = await open_service(settings(data, retain_s=1.0), clock=clock)
        await talk(service, clock, rounds=40)
        await service.snapshots.take()
        await talk(service, clock, rounds=40)
        await service.snapshots.take()
        assert file_log(service).first_offset > 2
        await service.close()

    asyncio.run(prepare())
    with live_server(data, segment_max_bytes=4096, rate_limit=1000) as server:
        client = server.client()
        assert client.connect("ann").status == 200
        reply = client.events(after=1)
        assert reply.status == 409
        error = reply.body["error"]
        assert error["code"] == "offset_out_of_range"
        assert error["head"] == client.call("GET", "/status").body["offset"]
        assert client.events(after=error["head"]).status == 200  # the client resyncs there


def test_a_snapshot_child_that_fails_leaves_the_server_running(tmp_path: Path) -> None:
    data = tmp_path / "data"
    clock = FakeClock()

    async def scenario() -> None:
        service = await open_service(settings(data), clock=clock)
        try:
            await talk(service, clock, rounds=5)
            shutil.rmtree(data / "events.log" / "snapshots", ignore_errors=True)
            (data / "events.log" / "snapshots").write_text("not a directory")
            assert not await service.snapshots.take()
            await talk(service, clock, rounds=1)  # still serving
        finally:
            (data / "events.log" / "snapshots").unlink()
            await service.close()

    asyncio.run(scenario())
