"""Edits and deletes on the service: the author's alone, charged like sends, seen by the room."""

from __future__ import annotations

import pytest
from attrs import evolve

from app import Budget, MessageView
from domain import (
    BannedError,
    ForbiddenError,
    NotFoundError,
    RateLimitedError,
    ValidationError,
)
from tests.app.support import FAST, RULES, FakeClock, login, run, send, started_service


def test_the_author_edits_and_the_room_sees_the_new_text() -> None:
    async def scenario() -> None:
        clock = FakeClock()
        service = await started_service(clock=clock)
        ann, bob = await login(service, "ann"), await login(service, "bob")
        sent = await send(service, ann, "helo")
        head = service.health().offset
        clock.advance(5)
        edited = await service.edits.edit(ann, sent.id, text="hello")
        assert (edited.text, edited.edited) == ("hello", clock.now)
        page = await service.messages.history(bob, "general", before=None, limit=None)
        assert [(m.text, m.edited) for m in page.messages] == [("hello", clock.now)]
        events = (await service.polling.poll(bob, after=head, timeout_s=0)).events
        assert [(e.type, e.fields["message"].text) for e in events] == [("message.edited", "hello")]
        with pytest.raises(ForbiddenError):
            await service.edits.edit(bob, sent.id, text="mine now")
        with pytest.raises(NotFoundError):
            await service.edits.edit(ann, sent.id + 100, text="x")
        with pytest.raises(ValidationError):
            await service.edits.edit(ann, sent.id, text="  ")
        await service.close()

    run(scenario)


def test_who_cannot_see_a_message_cannot_edit_it_either() -> None:
    async def scenario() -> None:
        service = await started_service()
        ann, bob = await login(service, "ann"), await login(service, "bob")
        room = await service.rooms.create(ann, name="club")
        sent = await send(service, ann, "secret", room=room.id)
        with pytest.raises(NotFoundError):  # not forbidden: that would say it exists
            await service.edits.edit(bob, sent.id, text="x")
        with pytest.raises(NotFoundError):
            await service.edits.delete(bob, sent.id)
        await service.close()

    run(scenario)


def test_a_delete_takes_the_message_and_its_comments_everywhere() -> None:
    async def scenario() -> None:
        service = await started_service()
        ann, bob = await login(service, "ann"), await login(service, "bob")
        start = service.health().offset
        sent = await send(service, ann, "oops wrong room")
        await service.messages.comment(bob, sent.id, text="ha")
        kept = await send(service, ann, "still here")
        with pytest.raises(ForbiddenError):
            await service.edits.delete(bob, sent.id)
        await service.edits.delete(ann, sent.id)
        page = await service.messages.history(bob, "general", before=None, limit=None)
        assert [m.id for m in page.messages] == [kept.id]
        with pytest.raises(NotFoundError):
            service.messages.comments(bob, sent.id)
        with pytest.raises(NotFoundError):
            await service.messages.comment(bob, sent.id, text="again")
        with pytest.raises(NotFoundError):
            await service.edits.delete(ann, sent.id)
        events = (await service.polling.poll(bob, after=start, timeout_s=0)).events
        assert [e.type for e in events] == ["message.sent", "message.deleted"]
        assert events[0].fields["message"].text == "still here"
        assert events[1].fields == {"message": sent.id, "room": "general"}
        assert service.search.search(bob, "oops").messages == ()
        await service.close()

    run(scenario)


def test_edits_count_in_the_window_of_general_and_in_the_messages_budget() -> None:
    async def scenario() -> None:
        service = await started_service(settings=RULES)  # 3 to general per window
        ann = await login(service, "ann")
        sent = await send(service, ann, "one")
        await service.edits.edit(ann, sent.id, text="two")
        await service.edits.edit(ann, sent.id, text="three")
        with pytest.raises(RateLimitedError):
            await service.edits.edit(ann, sent.id, text="four")
        await service.close()

        budget = evolve(FAST, budget_messages=Budget(requests=2, window_s=3600.0))
        service = await started_service(settings=budget)
        ann = await login(service, "ann")
        sent = await send(service, ann, "one")
        await service.edits.edit(ann, sent.id, text="two")
        with pytest.raises(RateLimitedError):
            await service.edits.delete(ann, sent.id)
        await service.close()

    run(scenario)


def test_a_banned_author_cannot_edit_but_may_delete() -> None:
    async def scenario() -> None:
        service = await started_service(settings=RULES)
        users = [await login(service, name) for name in ("ann", "bob", "cy", "dee")]
        ann = users[0]
        sent = await send(service, ann, "something", to="bob")
        for reporter in users[1:]:
            await service.moderation.report(reporter, "ann")
        with pytest.raises(BannedError):
            await service.edits.edit(ann, sent.id, text="else")
        await service.edits.delete(ann, sent.id)
        await service.close()

    run(scenario)


def test_an_edit_repeated_by_idempotency_key_returns_the_message_as_it_is_now() -> None:
    async def scenario() -> None:
        service = await started_service()
        ann = await login(service, "ann")
        sent = await service.messages.send(ann, text="a", idempotency_key="k")
        assert isinstance(sent, MessageView)
        await service.edits.edit(ann, sent.id, text="b")
        again = await service.messages.send(ann, text="a", idempotency_key="k")
        assert isinstance(again, MessageView)
        assert (again.id, again.text) == (sent.id, "b")
        await service.close()

    run(scenario)
