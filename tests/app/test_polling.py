"""Polling on the service: long polls, their wake-ups, the shared coalesced cursor."""

from __future__ import annotations

import asyncio

import pytest
from attrs import evolve

from domain import (
    LogMismatchError,
    OffsetOutOfRangeError,
    RateLimitedError,
    UnavailableError,
    ValidationError,
)
from eventstore import MemoryEventLog
from tests.app.support import FAST, connect, run, started_service


def test_poll_waits_and_is_woken_by_a_visible_event_only() -> None:
    async def scenario() -> None:
        service = await started_service()
        _, alice = await connect(service, "alice")
        _, bob = await connect(service, "bob")
        _, carol = await connect(service, "carol")
        head = service.health().offset
        waiting = asyncio.create_task(service.polling.poll(carol, after=head, timeout_s=5))
        await asyncio.sleep(0.01)
        await service.messages.send(alice, text="for bob", to="bob")
        await asyncio.sleep(0.01)
        assert not waiting.done()
        await service.messages.send(bob, text="for all")
        page = await asyncio.wait_for(waiting, 1)
        assert [e.fields["message"].text for e in page.events] == ["for all"]
        await service.close()

    run(scenario)


def test_poll_times_out_empty_and_rejects_bad_arguments() -> None:
    async def scenario() -> None:
        service = await started_service()
        _, alice = await connect(service, "alice")
        head = service.health().offset
        page = await service.polling.poll(alice, after=head, timeout_s=0.01)
        assert page.events == ()
        assert page.next == head
        with pytest.raises(OffsetOutOfRangeError) as info:
            await service.polling.poll(alice, after=head + 1, timeout_s=0)
        assert info.value.head == head
        with pytest.raises(LogMismatchError):
            await service.polling.poll(alice, after=0, log_id="other")
        for kwargs in [{"timeout_s": 61.0}, {"limit": 0}, {"limit": 10_000}]:
            with pytest.raises(ValidationError):
                await service.polling.poll(alice, after=0, **kwargs)  # type: ignore[arg-type]
        await service.close()

    run(scenario)


def test_cursor_is_shared_coalesced_and_does_not_feed_back() -> None:
    async def scenario() -> None:
        log = MemoryEventLog()
        service = await started_service(log)
        _, alice = await connect(service, "alice")
        _, phone = await connect(service, "bob")
        _, laptop = await connect(service, "bob")
        await service.messages.send(alice, text="hi")
        page = await service.polling.poll(phone, after=0, timeout_s=0)
        await service.polling.poll(phone, after=page.next, timeout_s=0)  # ack
        await service.polling.poll(phone, after=page.next, timeout_s=0)  # the same ack again
        head = log.head
        await service.polling.flush()  # what the timer does every second
        assert log.head == head + 1  # one coalesced cursor event
        seen = await service.polling.poll(laptop, after=page.next, timeout_s=0)
        assert [(e.type, e.fields["cursor"]) for e in seen.events] == [("cursor.moved", page.next)]
        # Acknowledging only one's own cursor event moves nothing: no loop.
        await service.polling.poll(laptop, after=seen.next, timeout_s=0)
        await service.polling.poll(phone, after=seen.next, timeout_s=0)
        await service.polling.flush()
        assert log.head == head + 1
        status = service.identity.status(laptop)
        assert status.cursor == page.next
        assert all(r.unread == 0 for r in status.rooms)
        await service.close()

    run(scenario)


def test_one_user_may_park_only_so_many_polls() -> None:
    async def scenario() -> None:
        service = await started_service(settings=evolve(FAST, max_parked_polls_per_user=2))
        _, ann = await connect(service, "ann")
        _, ann2 = await connect(service, "ann")
        _, bob = await connect(service, "bob")
        head = service.health().offset
        parked = [
            asyncio.create_task(service.polling.poll(s, after=head, timeout_s=5))
            for s in (ann, ann2)
        ]
        await asyncio.sleep(0.01)
        with pytest.raises(RateLimitedError, match="long polls"):
            await service.polling.poll(ann, after=head, timeout_s=5)
        other = asyncio.create_task(service.polling.poll(bob, after=head, timeout_s=5))
        await asyncio.sleep(0.01)
        assert not other.done()  # another user is not affected
        service.close_polls()
        await asyncio.gather(*parked, other)
        await service.close()

    run(scenario)


def test_cursors_a_flush_could_not_write_stay_pending() -> None:
    # NATS away (503) or the writer fenced: the moves are kept for the next flush
    # (or for the service a fenced replica rejoins with), and the timer goes on.
    async def scenario() -> None:
        log = MemoryEventLog()
        service = await started_service(log)
        _, alice = await connect(service, "alice")
        _, bob = await connect(service, "bob")
        await service.messages.send(alice, text="hi")
        page = await service.polling.poll(bob, after=0, timeout_s=0)
        await service.polling.poll(bob, after=page.next, timeout_s=0)  # ack
        execute = service.core.execute

        async def refuse(commands: object) -> list[object]:
            raise UnavailableError("NATS is away", retry_after_s=1.0)

        service.core.execute = refuse  # type: ignore[assignment,method-assign]
        with pytest.raises(UnavailableError):
            await service.polling.flush()
        assert service.polling.pending_cursors["bob"][1] == page.next
        service.core.execute = execute  # type: ignore[method-assign]
        head = log.head
        await service.polling.flush()
        assert log.head == head + 1
        assert not service.polling.pending_cursors
        await service.close()

    run(scenario)
