"""Scheduled messages with a controlled clock: each boundary just before and just after."""

from __future__ import annotations

import asyncio

import pytest

from app import MessageView, ScheduledView
from domain import (
    ConflictError,
    NotFoundError,
    ValidationError,
)
from eventstore import MemoryEventLog
from tests.app.support import RULES, FakeClock, login, run, send, started_service


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
        history = (await service.messages.history(bob, "general", before=None, limit=None)).messages
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
            for m in (
                await again.messages.history(ann2, "general", before=None, limit=None)
            ).messages
        ]
        assert texts == ["while down"]
        assert [s.text for s in again.schedule.pending(ann2)] == ["after restart"]
        await again.close()
        third = await started_service(log.reopen(), settings=RULES, clock=clock)
        await asyncio.sleep(0.05)
        ann3 = await login(third, "ann")
        assert [
            m.text
            for m in (
                await third.messages.history(ann3, "general", before=None, limit=None)
            ).messages
        ] == ["while down"]
        await third.close()

    run(scenario)


def test_ended_scheduled_messages_are_forgotten_a_lifetime_later() -> None:
    async def scenario() -> None:
        clock = FakeClock()
        service = await started_service(settings=RULES, clock=clock)
        ann = await login(service, "ann")
        ids = []
        for i in range(20):  # a schedule-and-cancel loop
            scheduled = await service.messages.send(ann, text=f"t{i}", send_at=clock.now + 50)
            assert isinstance(scheduled, ScheduledView)
            await service.schedule.cancel(ann, scheduled.id)
            ids.append(scheduled.id)
        with pytest.raises(ConflictError):  # a late cancel still says why
            await service.schedule.cancel(ann, ids[0])
        clock.advance(RULES.message_ttl_s + 60)  # forgotten by the minute of event time
        await send(service, ann, "time moves on")
        assert service.core.model.schedule.by_id == {}
        with pytest.raises(NotFoundError):
            await service.schedule.cancel(ann, ids[0])
        await service.close()

    run(scenario)
