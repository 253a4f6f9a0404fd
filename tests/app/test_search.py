"""Search on the service: word prefixes, only what the caller may read, newest first, paged."""

from __future__ import annotations

import pytest

from app import ChatService, Session
from app.search import MAX_SCANNED
from domain import NotFoundError, NotMemberError, ValidationError
from tests.app.support import RULES, FakeClock, login, run, send, started_service
from transport.api.search import MAX_QUERY_CHARS


def texts(service: ChatService, session: Session, q: str, **kw: object) -> list[str]:
    return [m.text for m in service.search.search(session, q, **kw).messages]  # type: ignore[arg-type]


def test_every_word_asked_must_begin_a_word_of_the_message() -> None:
    async def scenario() -> None:
        service = await started_service()
        ann = await login(service, "ann")
        for text in ("Lunch at noon?", "lunchtime is over", "no LUNCH today", "Σοφία's ΠΙΤΑ"):
            await send(service, ann, text)
        assert texts(service, ann, "lunch") == [
            "no LUNCH today",
            "lunchtime is over",
            "Lunch at noon?",
        ]
        assert texts(service, ann, "LUN noon") == ["Lunch at noon?"]
        assert texts(service, ann, "unch") == []  # a prefix, not any part
        assert texts(service, ann, "σοφ πιτ") == ["Σοφία's ΠΙΤΑ"]
        assert texts(service, ann, "ｌｕｎｃｈ today") == ["no LUNCH today"]  # NFKC
        for bad in ("", "?!", " ", "x" * (MAX_QUERY_CHARS + 1), None):
            with pytest.raises(ValidationError):
                service.search.search(ann, bad)
        await service.close()

    run(scenario)


def test_search_finds_only_what_the_caller_may_read() -> None:
    async def scenario() -> None:
        clock = FakeClock()
        service = await started_service(settings=RULES, clock=clock)  # messages live 1000 s
        ann, bob, cy = [await login(service, n) for n in ("ann", "bob", "cy")]
        closed = await service.rooms.create(ann, name="c", members=["bob"], history="joined")
        shared = await service.rooms.create(ann, name="s", members=["bob"])
        await send(service, ann, "plan old", room=closed.id)
        await send(service, ann, "plan shared", room=shared.id)
        await send(service, ann, "plan direct", to="bob")
        await service.rooms.invite(ann, closed.id, name="cy")
        await service.rooms.invite(ann, shared.id, name="cy")
        await send(service, ann, "plan new", room=closed.id)
        assert texts(service, bob, "plan") == ["plan new", "plan direct", "plan shared", "plan old"]
        assert texts(service, cy, "plan") == ["plan new", "plan shared"]
        assert texts(service, cy, "plan", room=shared.id) == ["plan shared"]
        with pytest.raises(NotFoundError):
            service.search.search(cy, "plan", room="dm:ann:bob")
        await service.rooms.leave(cy, closed.id)
        with pytest.raises(NotMemberError):
            service.search.search(cy, "plan", room=closed.id)
        clock.advance(RULES.message_ttl_s + 1)
        await send(service, ann, "plan later")
        assert texts(service, bob, "plan") == ["plan later"]
        await service.close()

    run(scenario)


def test_results_come_in_pages() -> None:
    async def scenario() -> None:
        service = await started_service()
        ann = await login(service, "ann")
        sent = [await send(service, ann, f"item {n}") for n in range(5)]
        first = service.search.search(ann, "item", limit=2)
        assert [m.id for m in first.messages] == [sent[4].id, sent[3].id]
        second = service.search.search(ann, "item", limit=2, before=first.next_before)
        assert [m.id for m in second.messages] == [sent[2].id, sent[1].id]
        third = service.search.search(ann, "item", limit=2, before=second.next_before)
        assert ([m.id for m in third.messages], third.next_before) == ([sent[0].id], None)
        await service.close()

    run(scenario)


def test_a_search_examines_a_bounded_number_of_messages_and_says_where_to_go_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("app.search.MAX_SCANNED", 3)

    async def scenario() -> None:
        service = await started_service()
        ann, bob = await login(service, "ann"), await login(service, "bob")
        room = await service.rooms.create(ann, name="r")
        mine = await send(service, bob, "word one")
        for n in range(4):
            await send(service, ann, f"word {n}", room=room.id)  # bob cannot see these
        first = service.search.search(bob, "word")
        assert first.messages == ()
        assert first.next_before is not None
        second = service.search.search(bob, "word", before=first.next_before)
        assert [m.id for m in second.messages] == [mine.id]
        assert second.next_before is None
        await service.close()

    assert MAX_SCANNED > 3
    run(scenario)


def test_an_edit_is_found_by_its_new_words_only() -> None:
    async def scenario() -> None:
        service = await started_service()
        ann = await login(service, "ann")
        sent = await send(service, ann, "apples")
        await send(service, ann, "pears")
        await service.edits.edit(ann, sent.id, text="oranges")
        assert texts(service, ann, "apple") == []
        assert texts(service, ann, "oran") == ["oranges"]
        await service.close()

    run(scenario)
