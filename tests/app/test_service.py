"""The service end to end on a memory log: given earlier commands, when one more, then ..."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from app import ChatService, ConnectResult, ServiceFailedError, Session
from domain import (
    BadCredentialsError,
    LogMismatchError,
    NotFoundError,
    OffsetOutOfRangeError,
    UnauthorizedError,
    ValidationError,
)
from eventstore import EventStoreError, MemoryEventLog
from tests.app.support import FAST, FakeClock, started_service


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(scenario())


async def login(
    service: ChatService, name: str, password: str = "pw"
) -> tuple[ConnectResult, Session]:
    result = await service.identity.connect(name, password)
    return result, service.identity.authenticate(result.token)


def test_first_connect_registers_and_joins_general() -> None:
    async def scenario() -> None:
        service = await started_service()
        result, session = await login(service, "alice")
        assert result.created
        assert [r.id for r in result.rooms] == ["general"]
        again, _ = await login(service, "ALICE")
        assert not again.created
        assert again.user == "alice"
        assert session.user == "alice"
        await service.close()

    run(scenario)


def test_wrong_password_and_bad_names_are_refused() -> None:
    async def scenario() -> None:
        service = await started_service()
        await login(service, "alice")
        with pytest.raises(BadCredentialsError):
            await service.identity.connect("alice", "wrong")
        for bad in ["", "a b", "x" * 33, "semi;colon", 7]:
            with pytest.raises(ValidationError) as info:
                await service.identity.connect(bad, "pw")
            assert info.value.field == "name"
        with pytest.raises(ValidationError):
            await service.identity.connect("bob", "")
        await service.close()

    run(scenario)


def test_connect_gives_the_last_n_general_messages_oldest_first() -> None:
    async def scenario() -> None:
        service = await started_service()
        _, alice = await login(service, "alice")
        for i in range(25):
            await service.messages.send(alice, text=f"m{i}")
        result, _ = await login(service, "bob")
        assert [m.text for m in result.general] == [f"m{i}" for i in range(5, 25)]
        await service.close()

    run(scenario)


def test_unread_after_reconnect_counts_from_the_acknowledged_offset() -> None:
    async def scenario() -> None:
        service = await started_service()
        _, alice = await login(service, "alice")
        _, bob = await login(service, "bob")
        await service.messages.send(alice, text="one")
        page = await service.polling.poll(bob, after=0, timeout_s=0)
        await service.messages.send(alice, text="two")
        await service.messages.send(alice, text="secret", to="bob")
        await service.polling.poll(bob, after=page.next, timeout_s=0)  # acknowledges "one"
        result, _ = await login(service, "bob")
        assert [m.text for m in result.unread] == ["two", "secret"]
        general = next(r for r in result.rooms if r.id == "general")
        assert general.unread == 1
        await service.close()

    run(scenario)


def test_direct_messages_reach_only_their_two_users() -> None:
    async def scenario() -> None:
        service = await started_service()
        _, alice = await login(service, "alice")
        _, bob = await login(service, "bob")
        _, carol = await login(service, "carol")
        message = await service.messages.send(alice, text="psst", to="Bob")
        assert message.room == "dm:alice:bob"
        bob_page = await service.polling.poll(bob, after=0, timeout_s=0)
        carol_page = await service.polling.poll(carol, after=0, timeout_s=0)
        assert "psst" in [
            e.fields["message"].text for e in bob_page.events if e.type == "message.sent"
        ]
        assert all(e.type != "message.sent" for e in carol_page.events)
        assert carol_page.next == bob_page.next  # carol's `next` moves past what she cannot see
        with pytest.raises(NotFoundError):
            service.messages.history(carol, "dm:alice:bob", before=None, limit=None)
        with pytest.raises(NotFoundError):
            await service.messages.send(carol, text="x", room="dm:alice:bob")
        with pytest.raises(NotFoundError):
            await service.messages.send(alice, text="x", to="nobody")
        with pytest.raises(ValidationError):
            await service.messages.send(alice, text="x", to="alice")
        await service.close()

    run(scenario)


def test_message_rules() -> None:
    async def scenario() -> None:
        service = await started_service()
        _, alice = await login(service, "alice")
        for bad in ["", "   ", "x" * (FAST.max_text_length + 1), None, 5]:
            with pytest.raises(ValidationError):
                await service.messages.send(alice, text=bad)
        with pytest.raises(NotFoundError):
            await service.messages.send(alice, text="x", room="nowhere")
        with pytest.raises(ValidationError):
            await service.messages.send(alice, text="x", room="general", to="bob")
        sent = await service.messages.send(alice, text="x" * FAST.max_text_length)
        assert sent.room == "general"
        await service.close()

    run(scenario)


def test_idempotency_key_returns_the_original_also_after_restart() -> None:
    async def scenario() -> None:
        log = MemoryEventLog()
        service = await started_service(log)
        _, alice = await login(service, "alice")
        first = await service.messages.send(alice, text="once", idempotency_key="k-1")
        head = log.head
        assert await service.messages.send(alice, text="once", idempotency_key="k-1") == first
        assert log.head == head
        with pytest.raises(ValidationError):
            await service.messages.send(alice, text="x", idempotency_key="bad key")
        await service.close()
        again = await started_service(log.reopen())
        alice2 = again.identity.authenticate("token-1")
        assert await again.messages.send(alice2, text="once", idempotency_key="k-1") == first
        await again.close()

    run(scenario)


def test_poll_waits_and_is_woken_by_a_visible_event_only() -> None:
    async def scenario() -> None:
        service = await started_service()
        _, alice = await login(service, "alice")
        _, bob = await login(service, "bob")
        _, carol = await login(service, "carol")
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
        _, alice = await login(service, "alice")
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
        _, alice = await login(service, "alice")
        _, phone = await login(service, "bob")
        _, laptop = await login(service, "bob")
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


def test_disconnect_revokes_only_that_token_and_persists_the_cursor() -> None:
    async def scenario() -> None:
        log = MemoryEventLog()
        service = await started_service(log)
        _, alice = await login(service, "alice")
        first, bob1 = await login(service, "bob")
        second, bob2 = await login(service, "bob")
        await service.messages.send(alice, text="hi")
        page = await service.polling.poll(bob1, after=0, timeout_s=0)
        await service.polling.poll(bob1, after=page.next, timeout_s=0)
        await service.identity.disconnect(bob1)
        with pytest.raises(UnauthorizedError):
            service.identity.authenticate(first.token)
        assert service.identity.authenticate(second.token) == bob2
        assert service.core.model.cursors["bob"] == page.next  # flushed at disconnect
        assert [s.id for s in service.identity.status(bob2).sessions] == [bob2.id]
        await service.close()

    run(scenario)


def test_history_pages_newest_first_and_members_only() -> None:
    async def scenario() -> None:
        service = await started_service()
        _, alice = await login(service, "alice")
        ids = [(await service.messages.send(alice, text=f"m{i}")).id for i in range(7)]
        page = service.messages.history(alice, "general", before=None, limit=3)
        assert [m.id for m in page.messages] == ids[::-1][:3]
        page2 = service.messages.history(alice, "general", before=page.next_before, limit=3)
        page3 = service.messages.history(alice, "general", before=page2.next_before, limit=3)
        assert [m.id for m in page2.messages + page3.messages] == ids[::-1][3:]
        assert page3.next_before is None
        with pytest.raises(ValidationError):
            service.messages.history(alice, "general", before=None, limit=501)
        with pytest.raises(NotFoundError):
            service.messages.history(alice, "nowhere", before=None, limit=None)
        await service.close()

    run(scenario)


def test_messages_expire_after_their_lifetime() -> None:
    async def scenario() -> None:
        clock = FakeClock()
        service = await started_service(clock=clock)
        _, alice = await login(service, "alice")
        old = await service.messages.send(alice, text="old")
        clock.advance(FAST.message_ttl_s)
        await service.messages.send(alice, text="new")
        assert [
            m.text
            for m in service.messages.history(alice, "general", before=None, limit=None).messages
        ] == ["new", "old"]
        clock.advance(0.001)  # "old" is now more than the lifetime old
        result, bob = await login(service, "bob")
        assert [m.text for m in result.general] == ["new"]
        page = await service.polling.poll(bob, after=old.id - 1, timeout_s=0)
        assert [e.fields["message"].text for e in page.events if e.type == "message.sent"] == [
            "new"
        ]
        await service.close()

    run(scenario)


def test_unauthenticated_tokens_are_refused() -> None:
    async def scenario() -> None:
        service = await started_service()
        for token in [None, "", "token-99"]:
            with pytest.raises(UnauthorizedError):
                service.identity.authenticate(token)
        await service.close()

    run(scenario)


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
        _, alice = await login(service, "alice")  # register + session: two appends
        with pytest.raises(ServiceFailedError):
            await service.messages.send(alice, text="lost")
        assert service.failed.is_set()
        with pytest.raises(ServiceFailedError):
            await service.messages.send(alice, text="after")
        await service.close()

    run(scenario)


def test_a_new_user_gets_history_not_unread_and_a_returning_one_gets_unread() -> None:
    async def scenario() -> None:
        service = await started_service()
        _, alice = await login(service, "alice")
        await service.messages.send(alice, text="before bob")
        first, _ = await login(service, "bob")
        assert [m.text for m in first.general] == ["before bob"]
        assert first.unread == ()
        assert first.cursor < first.offset  # bob's registration; his join and session came after
        await service.messages.send(alice, text="after bob")
        again, _ = await login(service, "bob")
        assert [m.text for m in again.unread] == ["after bob"]
        await service.close()

    run(scenario)
