"""Identity on the service: connect, sessions, status."""

from __future__ import annotations

import pytest

from domain import (
    BadCredentialsError,
    UnauthorizedError,
    ValidationError,
)
from eventstore import MemoryEventLog
from tests.app.support import connect, run, started_service


def test_first_connect_registers_and_joins_general() -> None:
    async def scenario() -> None:
        service = await started_service()
        result, session = await connect(service, "alice")
        assert result.created
        assert [r.id for r in result.rooms] == ["general"]
        again, _ = await connect(service, "ALICE")
        assert not again.created
        assert again.user == "alice"
        assert session.user == "alice"
        await service.close()

    run(scenario)


def test_wrong_password_and_bad_names_are_refused() -> None:
    async def scenario() -> None:
        service = await started_service()
        await connect(service, "alice")
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
        _, alice = await connect(service, "alice")
        for i in range(25):
            await service.messages.send(alice, text=f"m{i}")
        result, _ = await connect(service, "bob")
        assert [m.text for m in result.general] == [f"m{i}" for i in range(5, 25)]
        await service.close()

    run(scenario)


def test_unread_after_reconnect_counts_from_the_acknowledged_offset() -> None:
    async def scenario() -> None:
        service = await started_service()
        _, alice = await connect(service, "alice")
        _, bob = await connect(service, "bob")
        await service.messages.send(alice, text="one")
        page = await service.polling.poll(bob, after=0, timeout_s=0)
        await service.messages.send(alice, text="two")
        await service.messages.send(alice, text="secret", to="bob")
        await service.polling.poll(bob, after=page.next, timeout_s=0)  # acknowledges "one"
        result, _ = await connect(service, "bob")
        assert [m.text for m in result.unread] == ["two", "secret"]
        general = next(r for r in result.rooms if r.id == "general")
        assert general.unread == 1
        await service.close()

    run(scenario)


def test_disconnect_revokes_only_that_token_and_persists_the_cursor() -> None:
    async def scenario() -> None:
        log = MemoryEventLog()
        service = await started_service(log)
        _, alice = await connect(service, "alice")
        first, bob1 = await connect(service, "bob")
        second, bob2 = await connect(service, "bob")
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


def test_unauthenticated_tokens_are_refused() -> None:
    async def scenario() -> None:
        service = await started_service()
        for token in [None, "", "token-99"]:
            with pytest.raises(UnauthorizedError):
                service.identity.authenticate(token)
        await service.close()

    run(scenario)


def test_a_new_user_gets_history_not_unread_and_a_returning_one_gets_unread() -> None:
    async def scenario() -> None:
        service = await started_service()
        _, alice = await connect(service, "alice")
        await service.messages.send(alice, text="before bob")
        first, _ = await connect(service, "bob")
        assert [m.text for m in first.general] == ["before bob"]
        assert first.unread == ()
        assert first.cursor < first.offset  # bob's registration; his join and session came after
        await service.messages.send(alice, text="after bob")
        again, _ = await connect(service, "bob")
        assert [m.text for m in again.unread] == ["after bob"]
        await service.close()

    run(scenario)
