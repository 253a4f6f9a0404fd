"""Unread as a person counts it: never one's own, gone once the room is viewed, counts = lists.

Also what `/status` tells beside: presence, last seen, the window of general, a ban.
"""

from __future__ import annotations

import asyncio

from app import ChatService, Session
from eventstore import MemoryEventLog
from tests.app.support import RULES, FakeClock, connect, login, run, send, started_service


def unread_of(service: ChatService, session: Session) -> dict[str, int]:
    return {r.id: r.unread or 0 for r in service.identity.status(session).rooms}


def test_ones_own_messages_are_never_unread() -> None:
    async def scenario() -> None:
        service = await started_service()
        ann, bob = await login(service, "ann"), await login(service, "bob")
        await send(service, ann, "mine")
        await send(service, bob, "his")
        await send(service, ann, "mine too", to="bob")
        assert unread_of(service, ann) == {"general": 1, "dm:ann:bob": 0}
        result, _ = await connect(service, "ann")  # from another client
        assert [m.text for m in result.unread] == ["his"]
        assert sum(r.unread or 0 for r in result.rooms) == len(result.unread)
        await service.close()

    run(scenario)


def test_viewing_a_room_marks_it_read_for_every_session_and_after_a_restart() -> None:
    async def scenario() -> None:
        service = await started_service()
        ann, bob = await login(service, "ann"), await login(service, "bob")
        room = await service.rooms.create(ann, name="r", members=["bob"])
        await send(service, ann, "one", room=room.id)
        await send(service, ann, "two", room=room.id)
        await send(service, ann, "hi", to="bob")
        assert unread_of(service, bob) == {"general": 0, room.id: 2, "dm:ann:bob": 1}
        older = await service.messages.history(bob, room.id, before=10**9, limit=1)
        assert unread_of(service, bob)[room.id] == 2  # an older page is not the room viewed
        await service.messages.history(bob, room.id, before=None, limit=1)
        assert unread_of(service, bob) == {"general": 0, room.id: 0, "dm:ann:bob": 1}
        await send(service, ann, "three", room=room.id)
        again, bob2 = await connect(service, "bob")
        assert [m.text for m in again.unread] == ["hi", "three"]
        assert unread_of(service, bob2)[room.id] == 1
        log = service.core.event_log
        assert isinstance(log, MemoryEventLog)
        await service.close()
        service = await started_service(log.reopen())
        bob3 = await login(service, "bob")
        assert unread_of(service, bob3) == {"general": 0, room.id: 1, "dm:ann:bob": 1}
        assert older.messages  # the page itself was answered
        await service.close()

    run(scenario)


def test_what_was_said_before_someone_joined_is_history_not_unread() -> None:
    async def scenario() -> None:
        service = await started_service()
        ann, cy = await login(service, "ann"), await login(service, "cy")
        room = await service.rooms.create(ann, name="r")  # history shared with newcomers
        await send(service, ann, "before cy", room=room.id)
        await service.rooms.invite(ann, room.id, name="cy")
        assert unread_of(service, cy)[room.id] == 0
        page = await service.messages.history(cy, room.id, before=None, limit=None)
        assert [m.text for m in page.messages] == ["before cy"]
        await service.close()

    run(scenario)


def test_online_is_who_polls_or_made_a_request_lately() -> None:
    async def scenario() -> None:
        clock = FakeClock()
        service = await started_service(clock=clock)
        ann_connected, ann = await connect(service, "ann")
        bob = await login(service, "bob")
        window = service.settings.online_window_s
        assert service.identity.status(ann).online == ("ann", "bob")
        clock.advance(window + 1)
        assert service.identity.status(ann).online == ()
        service.identity.authenticate(ann_connected.token)  # any request
        assert service.identity.status(ann).online == ("ann",)
        poll = asyncio.ensure_future(service.polling.poll(bob, after=service.health().offset))
        await asyncio.sleep(0)  # parked
        clock.advance(window + 1)
        assert service.identity.status(ann).online == ("bob",)  # a waiting poll is presence
        poll.cancel()
        await asyncio.gather(poll, return_exceptions=True)
        assert service.identity.status(ann).online == ()
        seen = service.identity.status(ann).last_seen
        assert [s.name for s in seen] == ["ann", "bob"]
        assert seen[1].ts == clock.now - 2 * (window + 1)
        await service.close()

    run(scenario)


def test_status_tells_the_window_of_general_and_a_ban() -> None:
    async def scenario() -> None:
        clock = FakeClock()
        service = await started_service(settings=RULES, clock=clock)
        ann = await login(service, "ann")
        quota = service.identity.status(ann).general
        assert quota is not None
        assert (quota.limit, quota.remaining, quota.resets_at) == (3, 3, None)
        await send(service, ann, "one")
        quota = service.identity.status(ann).general
        assert quota is not None
        assert (quota.remaining, quota.resets_at) == (2, clock.now + RULES.rate_window_s)
        assert service.identity.status(ann).banned_until is None
        for name in ("b", "c", "d"):
            await service.moderation.report(await login(service, name), "ann")
        assert service.identity.status(ann).banned_until == clock.now + RULES.ban_duration_s
        clock.advance(RULES.ban_duration_s)
        assert service.identity.status(ann).banned_until is None
        limits = service.identity.status(ann).limits
        assert limits is not None
        assert limits.max_file_bytes == RULES.max_file_bytes
        await service.close()

    run(scenario)
