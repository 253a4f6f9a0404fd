"""Time rules with a controlled clock: each boundary just before and just after."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from app import ChatService, MessageView, ScheduledView, Session, Settings
from domain import (
    BannedError,
    ConflictError,
    NotFoundError,
    RateLimitedError,
    ValidationError,
)
from eventstore import MemoryEventLog
from tests.app.support import FakeClock, started_service

RULES = Settings(
    scrypt_n=2,
    cursor_flush_interval_s=3600.0,
    rate_limit=3,
    rate_window_s=100.0,
    report_threshold=3,
    ban_duration_s=50.0,
    message_ttl_s=1000.0,
)


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(scenario())


async def login(service: ChatService, name: str) -> Session:
    return service.identity.authenticate((await service.identity.connect(name, "pw")).token)


async def send(service: ChatService, session: Session, text: str, **kw: Any) -> MessageView:
    sent = await service.messages.send(session, text=text, **kw)
    assert isinstance(sent, MessageView)
    return sent


def test_rate_window_counts_general_only_and_resets_when_it_ends() -> None:
    async def scenario() -> None:
        clock = FakeClock()
        service = await started_service(settings=RULES, clock=clock)
        ann = await login(service, "ann")
        await login(service, "bob")
        for i in range(3):
            await send(service, ann, f"m{i}")
            clock.advance(10)
        with pytest.raises(RateLimitedError) as limited:
            await send(service, ann, "fourth")
        assert limited.value.retry_after_s == pytest.approx(70.0)
        await send(service, ann, "direct is not limited", to="bob")
        clock.advance(69.999)  # just before the window ends
        with pytest.raises(RateLimitedError):
            await send(service, ann, "still")
        clock.advance(0.001)  # the window ended: a new one starts with this message
        await send(service, ann, "new window")
        await service.close()

    run(scenario)


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


def test_scheduled_message_is_sent_at_its_time_and_can_be_cancelled() -> None:
    async def scenario() -> None:
        clock = FakeClock()
        service = await started_service(settings=RULES, clock=clock)
        ann = await login(service, "ann")
        bob = await login(service, "bob")
        later = await service.messages.send(ann, text="later", send_at=clock.now + 60)
        other = await service.messages.send(ann, text="never", to="bob", send_at=clock.now + 60)
        assert isinstance(later, ScheduledView)
        assert isinstance(other, ScheduledView)
        assert [s.id for s in service.schedule.pending(ann)] == [later.id, other.id]
        assert service.schedule.pending(bob) == ()
        with pytest.raises(NotFoundError):
            await service.schedule.cancel(bob, later.id)
        await service.schedule.cancel(ann, other.id)
        with pytest.raises(ConflictError):
            await service.schedule.cancel(ann, other.id)
        clock.advance(59.999)
        assert await service.schedule.deliver_due() == 0
        clock.advance(0.001)
        assert await service.schedule.deliver_due() == 1
        history = service.messages.history(bob, "general", before=None, limit=None).messages
        assert [(m.text, m.scheduled) for m in history] == [("later", later.id)]
        with pytest.raises(ConflictError):
            await service.schedule.cancel(ann, later.id)
        now = await service.messages.send(ann, text="past is now", send_at=clock.now - 5)
        assert isinstance(now, MessageView)
        with pytest.raises(ValidationError):
            await service.messages.send(ann, text="x", send_at=clock.now + 31 * 86400)
        with pytest.raises(ValidationError):
            await service.messages.send(ann, text="x", send_at="tomorrow")
        await service.close()

    run(scenario)


def test_a_scheduled_message_of_a_banned_author_fails_and_says_why() -> None:
    async def scenario() -> None:
        clock = FakeClock()
        service = await started_service(settings=RULES, clock=clock)
        ann = await login(service, "ann")
        plan = await service.messages.send(ann, text="later", send_at=clock.now + 10)
        assert isinstance(plan, ScheduledView)
        for name in ("a", "b", "c"):
            await service.moderation.report(await login(service, name), "ann")
        clock.advance(10)
        await service.schedule.deliver_due()
        page = await service.polling.poll(ann, after=0, timeout_s=0)
        failed = [e for e in page.events if e.type == "message.schedule_failed"]
        assert [(e.fields["scheduled"], e.fields["reason"]) for e in failed] == [
            (plan.id, "banned")
        ]
        assert service.schedule.pending(ann) == ()
        await service.close()

    run(scenario)


def test_due_messages_are_sent_once_after_a_restart() -> None:
    async def scenario() -> None:
        clock = FakeClock()
        log = MemoryEventLog()
        service = await started_service(log, settings=RULES, clock=clock)
        ann = await login(service, "ann")
        await service.messages.send(ann, text="while down", send_at=clock.now + 30)
        await service.messages.send(ann, text="after restart", send_at=clock.now + 300)
        await service.close()
        clock.advance(60)  # the server was down when the first fell due
        again = await started_service(log.reopen(), settings=RULES, clock=clock)
        await asyncio.sleep(0.05)  # the timer delivers due messages right after start
        ann2 = await login(again, "ann")
        texts = [
            m.text
            for m in again.messages.history(ann2, "general", before=None, limit=None).messages
        ]
        assert texts == ["while down"]
        assert [s.text for s in again.schedule.pending(ann2)] == ["after restart"]
        await again.close()
        third = await started_service(log.reopen(), settings=RULES, clock=clock)
        await asyncio.sleep(0.05)
        ann3 = await login(third, "ann")
        assert [
            m.text
            for m in third.messages.history(ann3, "general", before=None, limit=None).messages
        ] == ["while down"]
        await third.close()

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
