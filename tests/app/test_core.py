"""The core: a failed log stops the service and refuses everything after."""

from __future__ import annotations

from typing import Any

import pytest

from app import ServiceFailedError
from eventstore import EventStoreError, MemoryEventLog
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
