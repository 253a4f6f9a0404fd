"""Reports and bans with a controlled clock: each boundary just before and just after."""

from __future__ import annotations

import pytest

from app import Settings
from domain import (
    BannedError,
    NotFoundError,
    RateLimitedError,
    ValidationError,
)
from eventstore import MemoryEventLog
from tests.app.support import FakeClock, login, run, send, started_service

RULES = Settings(
    scrypt_n=2,
    cursor_flush_interval_s=3600.0,
    rate_limit=3,
    rate_window_s=100.0,
    report_threshold=3,
    ban_duration_s=50.0,
    message_ttl_s=1000.0,
)


def test_three_distinct_reporters_ban_until_the_ban_ends() -> None:
    async def scenario() -> None:
        clock = FakeClock()
        service = await started_service(settings=RULES, clock=clock)
        target = await login(service, "troll")
        reporters = [await login(service, name) for name in ("a", "b", "c", "d")]
        assert not await service.moderation.report(reporters[0], "troll")
        assert not await service.moderation.report(reporters[0], "TROLL")  # counts once
        assert not await service.moderation.report(reporters[1], "troll")
        with pytest.raises(ValidationError):
            await service.moderation.report(target, "troll")
        with pytest.raises(NotFoundError):
            await service.moderation.report(target, "ghost")
        assert await service.moderation.report(reporters[2], "troll")
        with pytest.raises(BannedError) as banned:
            await send(service, target, "hi")
        assert banned.value.until == pytest.approx(clock.now + 50.0)
        page = await service.polling.poll(target, after=0, timeout_s=0)
        assert "user.banned" in [e.type for e in page.events]
        clock.advance(49.999)
        with pytest.raises(BannedError):
            await send(service, target, "hi", to="a")
        clock.advance(0.001)
        await send(service, target, "free again")
        # the count starts again: two new reports do not ban
        await service.moderation.report(reporters[0], "troll")
        await service.moderation.report(reporters[3], "troll")
        await send(service, target, "still free")
        await service.close()

    run(scenario)


def test_a_ban_and_a_rate_window_survive_a_restart() -> None:
    async def scenario() -> None:
        clock = FakeClock()
        log = MemoryEventLog()
        service = await started_service(log, settings=RULES, clock=clock)
        ann = await login(service, "ann")
        await login(service, "troll")
        for i in range(3):
            await send(service, ann, f"m{i}")
        for name in ("a", "b", "c"):
            await service.moderation.report(await login(service, name), "troll")
        await service.close()
        clock.advance(10)
        again = await started_service(log.reopen(), settings=RULES, clock=clock)
        ann2 = await login(again, "ann")
        troll = await login(again, "troll")
        with pytest.raises(RateLimitedError):
            await send(again, ann2, "over the limit")
        with pytest.raises(BannedError):
            await send(again, troll, "still banned")
        await again.close()

    run(scenario)
