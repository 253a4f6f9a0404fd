"""Small fakes for service tests: a clock the test moves, a service on a memory log."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Coroutine
from typing import Any

from attrs import define

from app import ChatService, ConnectResult, MessageView, Session, Settings
from eventstore import EventLog, MemoryEventLog

# Tests register short passwords and report at once from new accounts.
EASY_ACCOUNTS: dict[str, Any] = {"min_password_length": 1, "report_min_account_age_s": 0.0}
FAST = Settings(
    scrypt_n=2, cursor_flush_interval_s=3600.0, rate_limit=1000, **EASY_ACCOUNTS
)  # flushes by hand
# Small numbers for the time rules, so each boundary is a step of the test clock.
RULES = Settings(
    scrypt_n=2,
    cursor_flush_interval_s=3600.0,
    rate_limit=3,
    rate_window_s=100.0,
    report_threshold=3,
    ban_duration_s=50.0,
    message_ttl_s=1000.0,
    **EASY_ACCOUNTS,
)


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


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(scenario())


async def connect(
    service: ChatService, name: str, password: str = "pw"
) -> tuple[ConnectResult, Session]:
    """Connect (registering on first use) and authenticate the new token."""
    result = await service.identity.connect(name, password)
    return result, service.identity.authenticate(result.token)


async def login(service: ChatService, name: str) -> Session:
    return (await connect(service, name))[1]


async def send(service: ChatService, session: Session, text: str, **kw: Any) -> MessageView:
    """Send now; the message that came back."""
    sent = await service.messages.send(session, text=text, **kw)
    assert isinstance(sent, MessageView)
    return sent
