"""Messages on the service: send, direct messages, idempotency, history, expiry, comments,
the general rate window."""

from __future__ import annotations

import pytest

from app import (
    ChatService,
    MessageView,
    Session,
)
from domain import (
    NotFoundError,
    NotMemberError,
    RateLimitedError,
    ValidationError,
)
from eventstore import MemoryEventLog
from tests.app.support import FAST, RULES, FakeClock, connect, login, run, send, started_service


def test_direct_messages_reach_only_their_two_users() -> None:
    async def scenario() -> None:
        service = await started_service()
        _, alice = await connect(service, "alice")
        _, bob = await connect(service, "bob")
        _, carol = await connect(service, "carol")
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
            await service.messages.history(carol, "dm:alice:bob", before=None, limit=None)
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
        _, alice = await connect(service, "alice")
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
        _, alice = await connect(service, "alice")
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


def test_history_pages_newest_first_and_members_only() -> None:
    async def scenario() -> None:
        service = await started_service()
        _, alice = await connect(service, "alice")
        ids = [(await service.messages.send(alice, text=f"m{i}")).id for i in range(7)]
        page = await service.messages.history(alice, "general", before=None, limit=3)
        assert [m.id for m in page.messages] == ids[::-1][:3]
        page2 = await service.messages.history(alice, "general", before=page.next_before, limit=3)
        page3 = await service.messages.history(alice, "general", before=page2.next_before, limit=3)
        assert [m.id for m in page2.messages + page3.messages] == ids[::-1][3:]
        assert page3.next_before is None
        with pytest.raises(ValidationError):
            await service.messages.history(alice, "general", before=None, limit=501)
        with pytest.raises(NotFoundError):
            await service.messages.history(alice, "nowhere", before=None, limit=None)
        await service.close()

    run(scenario)


def test_messages_expire_after_their_lifetime() -> None:
    async def scenario() -> None:
        clock = FakeClock()
        service = await started_service(clock=clock)
        _, alice = await connect(service, "alice")
        old = await service.messages.send(alice, text="old")
        clock.advance(FAST.message_ttl_s)
        await service.messages.send(alice, text="new")
        assert [
            m.text
            for m in (
                await service.messages.history(alice, "general", before=None, limit=None)
            ).messages
        ] == ["new", "old"]
        clock.advance(0.001)  # "old" is now more than the lifetime old
        result, bob = await connect(service, "bob")
        assert [m.text for m in result.general] == ["new"]
        page = await service.polling.poll(bob, after=old.id - 1, timeout_s=0)
        assert [e.fields["message"].text for e in page.events if e.type == "message.sent"] == [
            "new"
        ]
        await service.close()

    run(scenario)


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


async def texts_seen(service: ChatService, session: Session) -> list[str]:
    page = await service.polling.poll(session, after=0, timeout_s=0, limit=1000)
    return [e.fields["message"].text for e in page.events if e.type == "message.sent"]


def test_comments_are_for_the_rooms_members_oldest_first() -> None:
    async def scenario() -> None:
        clock = FakeClock()
        service = await started_service(clock=clock)
        ann, bob, cy = [await login(service, n) for n in ("ann", "bob", "cy")]
        room = await service.rooms.create(ann, name="club", members=["bob"])
        sent = await service.messages.send(ann, text="topic", room=room.id)
        assert isinstance(sent, MessageView)
        first = await service.messages.comment(bob, sent.id, text="first")
        await service.messages.comment(ann, sent.id, text="second")
        assert [c.text for c in service.messages.comments(ann, sent.id).comments] == [
            "first",
            "second",
        ]
        with pytest.raises(NotMemberError):
            await service.messages.comment(cy, sent.id, text="me too")
        with pytest.raises(NotMemberError):
            service.messages.comments(cy, sent.id)
        with pytest.raises(NotFoundError):
            await service.messages.comment(ann, 999_999, text="x")
        with pytest.raises(ValidationError):
            await service.messages.comment(ann, sent.id, text="")
        page = await service.messages.history(bob, room.id, before=None, limit=None)
        assert page.messages[0].comments == 2
        cy_page = await service.polling.poll(cy, after=0, timeout_s=0)
        assert all(e.type != "message.commented" for e in cy_page.events)
        bob_page = await service.polling.poll(bob, after=0, timeout_s=0)
        commented = [
            e.fields["comment"].id for e in bob_page.events if e.type == "message.commented"
        ]
        assert commented[0] == first.id
        clock.advance(service.settings.message_ttl_s + 1)
        with pytest.raises(NotFoundError):
            service.messages.comments(ann, sent.id)
        await service.close()

    run(scenario)


def test_comments_come_in_pages_oldest_first() -> None:
    async def scenario() -> None:
        service = await started_service()
        ann = await login(service, "ann")
        sent = await send(service, ann, "with many comments")
        for i in range(7):
            await service.messages.comment(ann, sent.id, text=f"c{i}")
        first = service.messages.comments(ann, sent.id, limit=3)
        assert [c.text for c in first.comments] == ["c0", "c1", "c2"]
        assert first.next == first.comments[-1].id
        second = service.messages.comments(ann, sent.id, after=first.next, limit=3)
        assert [c.text for c in second.comments] == ["c3", "c4", "c5"]
        last = service.messages.comments(ann, sent.id, after=second.next, limit=3)
        assert [c.text for c in last.comments] == ["c6"]
        assert last.next is None
        assert len(service.messages.comments(ann, sent.id).comments) == 7  # 50 by default
        with pytest.raises(ValidationError):
            service.messages.comments(ann, sent.id, limit=501)
        await service.close()

    run(scenario)


def test_a_send_at_no_one_means_is_refused_not_a_crash() -> None:
    async def scenario() -> None:
        service = await started_service()
        ann = await login(service, "ann")
        for bad in (10**400, -(10**400), 1e300, float("nan"), True, "soon"):
            with pytest.raises(ValidationError, match="send_at"):
                await service.messages.send(ann, text="when?", send_at=bad)
        await service.close()

    run(scenario)


def test_who_joined_after_a_message_of_a_joined_history_room_sees_neither_it_nor_comments() -> None:
    async def scenario() -> None:
        service = await started_service()
        ann = await login(service, "ann")
        bob = await login(service, "bob")
        room = await service.rooms.create(ann, name="club", history="joined")
        before = await send(service, ann, "before bob", room=room.id)
        await service.rooms.invite(ann, room.id, name="bob")
        head = service.health().offset
        await service.messages.comment(ann, before.id, text="about the old one")
        page = await service.polling.poll(bob, after=head, timeout_s=0)
        assert [e.type for e in page.events] == []
        with pytest.raises(NotFoundError):
            service.messages.comments(bob, before.id)
        after = await send(service, ann, "after bob", room=room.id)
        head = service.health().offset
        await service.messages.comment(ann, after.id, text="about the new one")
        page = await service.polling.poll(bob, after=head, timeout_s=0)
        assert [e.fields["comment"].text for e in page.events] == ["about the new one"]
        await service.close()

    run(scenario)
