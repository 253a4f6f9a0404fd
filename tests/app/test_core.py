"""The core: a failed log stops the service and refuses everything after; a fence says so."""

from __future__ import annotations

from typing import Any

import pytest

from app import ServiceFailedError
from eventstore import EventStoreError, LogFailedError, MemoryEventLog, WriterFencedError
from tests.app.support import connect, run, started_service


class _FailingAppend:
    def __init__(self, records: list[Any]) -> None:
        self.records = records

    async def wait_durable(self) -> None:
        raise EventStoreError("fdatasync failed: EIO")


class FailingLog(MemoryEventLog):
    """A log whose disk breaks after `healthy` appends."""

    def __init__(self, healthy: int) -> None:
        super().__init__()
        self.healthy = healthy

    def append_nowait(self, records: Any) -> Any:
        staged = super().append_nowait(records)
        self.healthy -= 1
        return staged if self.healthy >= 0 else _FailingAppend(staged.records)


def test_a_failed_append_stops_the_service_and_refuses_everything_after() -> None:
    async def scenario() -> None:
        service = await started_service(FailingLog(healthy=3))
        _, alice = await connect(service, "alice")  # register + session: two appends
        with pytest.raises(ServiceFailedError):
            await service.messages.send(alice, text="lost")
        assert service.failed.is_set()
        with pytest.raises(ServiceFailedError):
            await service.messages.send(alice, text="after")
        await service.close()

    run(scenario)


class _Forwarder:
    """A replica's forwarder that counts what it is asked to forward."""

    def __init__(self) -> None:
        self.forwarded = 0

    def writes_here(self) -> bool:
        return False

    async def execute(self, commands: Any) -> list[Any]:
        self.forwarded += 1
        return []

    async def reach(self, offset: int) -> bool:
        return False

    async def load(self, after: int, last: int) -> None:
        pass

    async def catch_up(self) -> bool:
        return False

    async def close(self) -> None:
        pass


def test_a_fenced_core_says_so_and_forwards_nothing_after() -> None:
    # Forwarded from a replica that is about to rejoin, a command would be stored
    # and still answered 503 (this replica's reads stop): refused, it is not stored.
    async def scenario() -> None:
        service = await started_service()
        _, alice = await connect(service, "alice")
        failure = LogFailedError("stream CHAT: fenced")
        failure.__cause__ = WriterFencedError("another writer took over")
        service.core.fail(failure)
        assert service.failed.is_set()
        assert service.core.fenced
        forwarder = _Forwarder()
        service.core.forwarder = forwarder
        with pytest.raises(ServiceFailedError, match="rejoining as a follower"):
            await service.messages.send(alice, text="after")
        assert forwarder.forwarded == 0
        service.core.forwarder = None
        await service.close()

    run(scenario)


def test_a_failed_fsync_is_not_a_fence() -> None:
    async def scenario() -> None:
        service = await started_service(FailingLog(healthy=3))
        _, alice = await connect(service, "alice")
        with pytest.raises(ServiceFailedError, match="stopping"):
            await service.messages.send(alice, text="lost")
        assert not service.core.fenced
        await service.close()

    run(scenario)
