"""Event streams on the service: the poll's pages pushed, its cap, its cursor, its end."""

from __future__ import annotations

import asyncio

import pytest
from attrs import evolve

from app import ChatService, EventsPage, EventStream, Session
from domain import LogMismatchError, OffsetOutOfRangeError, RateLimitedError, ValidationError
from eventstore import MemoryEventLog
from tests.app.support import FAST, connect, run, started_service

STEP_S = 1.0  # no test waits this long: a deadline, not a measurement


async def next_page(stream: EventStream) -> EventsPage:
    return await asyncio.wait_for(anext(stream), STEP_S)


def texts(page: EventsPage) -> list[str]:
    return [e.fields["message"].text for e in page.events if e.type == "message.sent"]


async def opened(service: ChatService, session: Session, after: int) -> EventStream:
    stream = await service.streams.open(session, after=after, log_id=None)
    await next_page(stream)  # the first page: what was there when it opened
    return stream


def test_a_stream_hands_out_what_a_poll_would_as_it_becomes_durable() -> None:
    async def scenario() -> None:
        service = await started_service()
        _, alice = await connect(service, "alice")
        _, bob = await connect(service, "bob")
        await connect(service, "carol")
        head = service.health().offset
        await service.messages.send(alice, text="before")
        stream = await service.streams.open(bob, after=head, log_id=None)
        polled = await service.polling.poll(bob, after=head, timeout_s=0)
        first = await next_page(stream)
        assert first == polled
        waiting = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0.01)
        await service.messages.send(alice, text="for carol", to="carol")
        await asyncio.sleep(0.01)
        assert not waiting.done()  # not for bob
        await service.messages.send(alice, text="live")
        page = await asyncio.wait_for(waiting, STEP_S)
        assert texts(page) == ["live"]
        assert page.next == service.health().offset
        stream.close()
        await service.close()

    run(scenario)


def test_a_stream_opens_like_a_poll_or_not_at_all() -> None:
    async def scenario() -> None:
        service = await started_service()
        _, alice = await connect(service, "alice")
        head = service.health().offset
        with pytest.raises(LogMismatchError):
            await service.streams.open(alice, after=0, log_id="other")
        with pytest.raises(OffsetOutOfRangeError):
            await service.streams.open(alice, after=head + 1, log_id=None)
        with pytest.raises(ValidationError):
            await service.streams.open(alice, after=-1, log_id=None)
        assert service.polling.waiters.parked(alice.user_key) == 0
        await service.close()

    run(scenario)


def test_streams_and_parked_polls_share_the_users_cap() -> None:
    async def scenario() -> None:
        service = await started_service(settings=evolve(FAST, max_parked_polls_per_user=2))
        _, ann = await connect(service, "ann")
        _, bob = await connect(service, "bob")
        head = service.health().offset
        stream = await opened(service, ann, head)
        parked = asyncio.create_task(service.polling.poll(ann, after=head, timeout_s=5))
        await asyncio.sleep(0.01)
        with pytest.raises(RateLimitedError, match="streams"):
            await service.streams.open(ann, after=head, log_id=None)
        with pytest.raises(RateLimitedError, match="streams"):
            await service.polling.poll(ann, after=head, timeout_s=5)
        other = await opened(service, bob, head)  # another user is not affected
        stream.close()
        stream.close()  # twice is once
        again = await opened(service, ann, head)  # a closed stream frees its place
        service.close_polls()
        await parked
        for left in (other, again):
            with pytest.raises(StopAsyncIteration):
                await next_page(left)  # shutdown ends them
        assert service.polling.waiters.parked(ann.user_key) == 0
        await service.close()

    run(scenario)


def test_the_backlog_a_stream_opens_with_is_acknowledged_like_any_page() -> None:
    async def scenario() -> None:
        log = MemoryEventLog()
        service = await started_service(log)
        _, alice = await connect(service, "alice")
        _, bob = await connect(service, "bob")
        head = service.health().offset
        await service.messages.send(alice, text="before the stream")
        stream = await service.streams.open(bob, after=head, log_id=None)
        page = await next_page(stream)
        assert texts(page) == ["before the stream"]
        assert service.polling.cursor_of(bob.user_key) < page.next
        waiting = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0.01)
        assert service.polling.cursor_of(bob.user_key) == page.next
        waiting.cancel()
        stream.close()
        await service.close()

    run(scenario)


def test_a_stream_acknowledges_a_page_when_the_next_is_asked_for() -> None:
    async def scenario() -> None:
        log = MemoryEventLog()
        service = await started_service(log)
        _, alice = await connect(service, "alice")
        _, bob = await connect(service, "bob")
        head = service.health().offset
        stream = await opened(service, bob, head)
        await service.messages.send(alice, text="one")
        page = await next_page(stream)
        assert texts(page) == ["one"]
        assert service.polling.cursor_of(bob.user_key) < page.next  # handed out, not taken yet
        waiting = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0.01)
        assert service.polling.cursor_of(bob.user_key) == page.next
        waiting.cancel()
        stream.close()
        await service.close()

    run(scenario)


def test_a_quiet_stream_hands_out_heartbeats() -> None:
    async def scenario() -> None:
        service = await started_service(settings=evolve(FAST, stream_heartbeat_s=0.01))
        _, alice = await connect(service, "alice")
        head = service.health().offset
        stream = await opened(service, alice, head)
        beat = await next_page(stream)
        assert beat.events == ()
        assert beat.next == head
        stream.close()
        await service.close()

    run(scenario)


def test_a_stream_ends_with_its_session_and_its_lifetime() -> None:
    async def scenario() -> None:
        service = await started_service(settings=evolve(FAST, stream_lifetime_s=0.05))
        _, alice = await connect(service, "alice")
        _, phone = await connect(service, "alice")
        head = service.health().offset
        short = await opened(service, alice, head)
        revoked = await opened(service, phone, head)
        waiting = asyncio.ensure_future(anext(revoked))
        await service.identity.revoke(alice, phone.id)
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(waiting, STEP_S)
        pages = [page async for page in short]  # heartbeats until its lifetime is over
        assert all(page.events == () for page in pages)
        assert service.polling.waiters.parked(alice.user_key) == 0
        await service.close()

    run(scenario)
