"""Reports and bans with a controlled clock: each boundary just before and just after."""

from __future__ import annotations

import pytest
from attrs import evolve

from domain import (
    BannedError,
    ForbiddenError,
    NotFoundError,
    RateLimitedError,
    ValidationError,
)
from eventstore import MemoryEventLog
from tests.app.support import RULES, FakeClock, login, run, send, started_service


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


def test_reports_from_young_accounts_do_not_count() -> None:
    async def scenario() -> None:
        clock = FakeClock()
        settings = evolve(RULES, report_min_account_age_s=3600.0)
        service = await started_service(settings=settings, clock=clock)
        target = await login(service, "target")
        elders = [await login(service, f"elder{i}") for i in range(2)]
        clock.advance(3600.0)
        throwaways = [await login(service, f"fresh{i}") for i in range(3)]
        for fresh in throwaways:
            assert not await service.moderation.report(fresh, "target")
        await send(service, target, "still here")
        assert not await service.moderation.report(elders[0], "target")
        assert not await service.moderation.report(elders[1], "target")
        clock.advance(3600.0)  # now the fresh accounts are an hour old too
        assert await service.moderation.report(throwaways[0], "target")
        with pytest.raises(BannedError):
            await send(service, target, "banned")
        await service.close()

    run(scenario)


def test_a_blocked_user_can_neither_write_to_nor_invite_the_blocker() -> None:
    async def scenario() -> None:
        service = await started_service(settings=RULES)
        ann = await login(service, "ann")
        bob = await login(service, "bob")
        first = await send(service, bob, "hi ann", to="ann")
        await service.moderation.block(ann, "Bob")
        assert service.moderation.blocked(ann) == ("bob",)
        with pytest.raises(ForbiddenError, match="does not accept direct messages"):
            await send(service, bob, "again", to="ann")
        with pytest.raises(ForbiddenError):  # nor through the room id
            await send(service, bob, "again", room=first.room)
        room = await service.rooms.create(bob, name="club")
        with pytest.raises(ForbiddenError, match="invitations"):
            await service.rooms.invite(bob, room.id, name="ann")
        await send(service, ann, "ann may still write", to="bob")
        with pytest.raises(ValidationError):
            await service.moderation.block(ann, "ann")
        with pytest.raises(NotFoundError):
            await service.moderation.block(ann, "nobody")
        await service.moderation.unblock(ann, "bob")
        await send(service, bob, "friends again", to="ann")
        await service.close()

    run(scenario)
