"""Group rooms, invitations, join links with approval, on the service."""

from __future__ import annotations

import pytest

from app import ChatService, Session, Settings
from domain import (
    ConflictError,
    NotFoundError,
    NotMemberError,
    NotOwnerError,
)
from tests.app.support import EASY_ACCOUNTS, login, run, started_service


async def texts_seen(service: ChatService, session: Session) -> list[str]:
    page = await service.polling.poll(session, after=0, timeout_s=0, limit=1000)
    return [e.fields["message"].text for e in page.events if e.type == "message.sent"]


def test_invited_members_see_the_room_from_when_they_joined() -> None:
    async def scenario() -> None:
        service = await started_service()
        ann, bob, cy = [await login(service, n) for n in ("ann", "bob", "cy")]
        room = await service.rooms.create(ann, name="Book club", members=["bob"], history="joined")
        assert (room.kind, room.owner, room.members) == ("group", "ann", ("ann", "bob"))
        await service.messages.send(ann, text="before cy", room=room.id)
        with pytest.raises(NotMemberError):
            await service.messages.send(cy, text="let me in", room=room.id)
        with pytest.raises(NotOwnerError):
            await service.rooms.invite(bob, room.id, name="cy")
        added, _ = await service.rooms.invite(ann, room.id, name="cy")
        assert added
        assert not (await service.rooms.invite(ann, room.id, name="cy"))[0]
        await service.messages.send(bob, text="after cy", room=room.id)
        assert await texts_seen(service, cy) == ["after cy"]
        page = await service.messages.history(cy, room.id, before=None, limit=None)
        assert [m.text for m in page.messages] == ["after cy"]
        assert [r.id for r in service.rooms.list(cy)] == ["general", room.id]
        await service.close()

    run(scenario)


def test_join_link_request_approve_reject_and_revoke() -> None:
    async def scenario() -> None:
        service = await started_service()
        ann, bob, cy, dee = [await login(service, n) for n in ("ann", "bob", "cy", "dee")]
        room = await service.rooms.create(ann, name="club")
        link = await service.rooms.create_link(ann, room.id)
        with pytest.raises(NotFoundError):  # bob is not even a member: the room is private
            await service.rooms.create_link(bob, room.id)
        first = await service.rooms.join(bob, link.token)
        again = await service.rooms.join(bob, link.token)
        assert first.status == again.status == "pending"
        assert [r.user for r in service.rooms.requests(ann, room.id)] == ["bob"]
        await service.rooms.join(cy, link.token)
        approved = await service.rooms.decide(ann, room.id, "bob", approve=True)
        rejected = await service.rooms.decide(ann, room.id, "cy", approve=False)
        assert (approved.status, rejected.status) == ("approved", "rejected")
        assert (await service.rooms.join(bob, link.token)).status == "member"
        with pytest.raises(NotFoundError):
            await service.rooms.decide(ann, room.id, "cy", approve=True)
        await service.rooms.join(dee, link.token)
        await service.rooms.revoke_link(ann, room.id, link.token)
        with pytest.raises(NotFoundError):
            await service.rooms.join(cy, link.token)
        with pytest.raises(NotFoundError):
            await service.rooms.join(cy, "0" * 64)
        # dee's request made before the revocation stays for the owner to decide
        assert [r.user for r in service.rooms.requests(ann, room.id)] == ["dee"]
        bob_events = await service.polling.poll(bob, after=0, timeout_s=0)
        types = [e.type for e in bob_events.events]
        assert "room.join_decided" in types
        assert "room.member_joined" in types
        cy_events = await service.polling.poll(cy, after=0, timeout_s=0)
        decided = [
            e.fields["request"].status for e in cy_events.events if e.type == "room.join_decided"
        ]
        assert decided == ["rejected"]
        await service.close()

    run(scenario)


def test_leaving_and_the_owner_rule() -> None:
    async def scenario() -> None:
        service = await started_service()
        ann, bob = await login(service, "ann"), await login(service, "bob")
        room = await service.rooms.create(ann, name="pair", members=["bob"])
        with pytest.raises(ConflictError):
            await service.rooms.leave(ann, room.id)
        with pytest.raises(ConflictError):
            await service.rooms.leave(ann, "general")
        await service.rooms.leave(bob, room.id)
        with pytest.raises(NotMemberError):
            await service.messages.history(bob, room.id, before=None, limit=None)
        with pytest.raises(NotFoundError):
            await service.rooms.leave(bob, room.id)
        await service.rooms.leave(ann, room.id)  # alone now: the owner may go
        await service.close()

    run(scenario)


def test_caps_on_rooms_links_and_scheduled_messages() -> None:
    async def scenario() -> None:
        settings = FAST_CAPS
        service = await started_service(settings=settings)
        ann = await login(service, "ann")
        rooms = [await service.rooms.create(ann, name=f"r{i}") for i in range(2)]
        with pytest.raises(ConflictError, match="rooms per owner"):
            await service.rooms.create(ann, name="one too many")
        for _ in range(2):
            await service.rooms.create_link(ann, rooms[0].id)
        with pytest.raises(ConflictError, match="links per room"):
            await service.rooms.create_link(ann, rooms[0].id)
        await service.rooms.create_link(ann, rooms[1].id)  # per room
        later = service.core.now() + 60
        for _ in range(2):
            await service.messages.send(ann, text="later", send_at=later)
        with pytest.raises(ConflictError, match="pending scheduled"):
            await service.messages.send(ann, text="later", send_at=later)
        await service.close()

    run(scenario)


FAST_CAPS = Settings(
    **EASY_ACCOUNTS,
    scrypt_n=2,
    cursor_flush_interval_s=3600.0,
    max_rooms_per_owner=2,
    max_links_per_room=2,
    max_pending_scheduled_per_user=2,
)
