"""The writer lease and the fence on a real nats-server: who writes, what a fenced writer sees."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import pytest

from eventstore import (
    JetStreamEventLog,
    LogFailedError,
    NewRecord,
    WriterLease,
    fenced_out,
)
from tests.nats_support import NatsServer


def note(n: int) -> list[NewRecord]:
    return [NewRecord(ts=1_700_000_000.0 + n, name="note.v1", data={"n": n})]


async def answer(payload: bytes) -> bytes:
    return payload


def test_a_writer_fenced_by_another_fails_as_fenced_and_says_so_once(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    stream = f"T{secrets.token_hex(6)}"

    async def open_log(name: str) -> JetStreamEventLog:
        (tmp_path / name).mkdir()
        return await JetStreamEventLog.open(
            nats_server.url, stream=stream, data_dir=tmp_path / name
        )

    async def scenario() -> None:
        old, new = await open_log("old"), await open_log("new")
        told: list[BaseException] = []
        old.on_failure = told.append
        try:
            assert await old.become_writer()
            await old.append(note(1))
            assert await new.become_writer()  # catches up, then fences the old writer out
            with pytest.raises(LogFailedError) as info:
                await old.append(note(2))  # staged (it still thinks it writes), refused
            assert fenced_out(info.value)
            assert len(told) == 1
            assert fenced_out(told[0])
            assert not old.is_writer
            assert old.durable_head == 1
            stored = await new.append(note(2))  # the offset the refused round had
            assert [r.offset for r in stored] == [2]
        finally:
            await new.close()
            await old.close()

    asyncio.run(scenario())


def test_a_lease_renews_by_the_ttl_its_bucket_was_made_with(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    stream = f"T{secrets.token_hex(6)}"

    async def scenario() -> None:
        logs = []
        leases = []
        try:
            for name, ttl_s in (("first", 2.0), ("second", 7.0)):
                (tmp_path / name).mkdir()
                log = await JetStreamEventLog.open(
                    nats_server.url, stream=stream, data_dir=tmp_path / name
                )
                logs.append(log)
                lease = WriterLease(log, ttl_s=ttl_s)
                leases.append(lease)
                await lease.start(answer)
            assert [lease.ttl_s for lease in leases] == [2.0, 2.0]
            assert [log.is_writer for log in logs] == [True, False]
        finally:
            for lease in leases:
                await lease.close()
            for log in logs:
                await log.close()

    asyncio.run(scenario())
