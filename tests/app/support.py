"""Small fakes for service tests: a clock the test moves, a service on a memory log."""

from __future__ import annotations

import itertools
from collections.abc import Callable

from attrs import define

from app import ChatService, Settings
from eventstore import EventLog, MemoryEventLog

FAST = Settings(scrypt_n=2, cursor_flush_interval_s=3600.0, rate_limit=1000)  # flushes by hand


@define
class FakeClock:
    now: float = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def counter_tokens() -> Callable[[], str]:
    numbers = itertools.count(1)
    return lambda: f"token-{next(numbers)}"


async def started_service(
    event_log: EventLog | None = None,
    *,
    settings: Settings = FAST,
    clock: FakeClock | None = None,
) -> ChatService:
    """A replayed, started service on `event_log` (a fresh memory log by default)."""
    service = ChatService(
        settings,
        event_log or MemoryEventLog(log_id="test-log"),
        clock=clock or FakeClock(),
        token_factory=counter_tokens(),
        salt_factory=lambda: b"salt" * 4,
    )
    service.replay()
    await service.start()
    return service
