"""Identity on the service: connect, sessions, status."""

from __future__ import annotations

import pytest
from attrs import evolve

from app.passwords import ADDRESS_BUDGETS, FREE_WRONG_TRIES, MAX_WAITING_HASHES
from domain import (
    BadCredentialsError,
    ConflictError,
    NotFoundError,
    RateLimitedError,
    UnauthorizedError,
    UnavailableError,
    ValidationError,
)
from eventstore import MemoryEventLog
from tests.app.support import FAST, FakeClock, connect, run, started_service


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


def test_look_alike_names_are_refused() -> None:
    async def scenario() -> None:
        service = await started_service()
        await connect(service, "alice")
        await connect(service, "appe")
        with pytest.raises(ValidationError, match="several scripts"):
            await service.identity.connect("аlice", "pw")  # a Cyrillic а among Latin letters
        with pytest.raises(ConflictError, match="looks too much like 'alice'"):
            await service.identity.connect("aIice", "pw")  # a capital I for the l
        with pytest.raises(ConflictError, match="looks too much like 'appe'"):
            await service.identity.connect("арре", "pw")  # all Cyrillic, looks the same
        result, _ = await connect(service, "ａlice")  # fullwidth folds: it IS alice
        assert result.user == "alice"
        assert not result.created
        await connect(service, "Алиса")  # another name in one script is fine
        await service.close()

    run(scenario)


def test_wrong_passwords_are_throttled_before_any_hashing() -> None:
    async def scenario() -> None:
        clock = FakeClock()
        service = await started_service(clock=clock)
        await connect(service, "alice")
        hashed = 0
        verify = service.identity.passwords.verify

        async def counting(password: str, encoded: str) -> bool:
            nonlocal hashed
            hashed += 1
            return await verify(password, encoded)

        service.identity.passwords.verify = counting  # type: ignore[method-assign]
        for _ in range(FREE_WRONG_TRIES):
            with pytest.raises(BadCredentialsError):
                await service.identity.connect("alice", "wrong", address="10.0.0.1")
        with pytest.raises(RateLimitedError, match="wrong passwords") as throttled:
            await service.identity.connect("alice", "pw", address="10.0.0.2")
        assert hashed == FREE_WRONG_TRIES  # the throttled try hashed nothing
        clock.advance(throttled.value.retry_after_s)
        await service.identity.connect("alice", "pw", address="10.0.0.2")  # then it resets
        await service.identity.connect("alice", "pw")
        await service.close()

    run(scenario)


def test_one_address_has_a_budget_of_wrong_passwords() -> None:
    async def scenario() -> None:
        service = await started_service()
        names = [f"user{i}" for i in range(ADDRESS_BUDGETS["wrong_passwords"].requests + 1)]
        for name in names:
            await connect(service, name)
        for name in names[:-1]:
            with pytest.raises(BadCredentialsError):
                await service.identity.connect(name, "wrong", address="10.0.0.9")
        with pytest.raises(RateLimitedError):
            await service.identity.connect(names[-1], "pw", address="10.0.0.9")
        await service.identity.connect(names[-1], "pw", address="10.0.0.10")
        await service.close()

    run(scenario)


def test_new_accounts_need_a_real_password() -> None:
    async def scenario() -> None:
        service = await started_service(settings=evolve(FAST, min_password_length=8))
        with pytest.raises(ValidationError, match="at least 8"):
            await service.identity.connect("ann", "short")
        await service.identity.connect("ann", "long enough")
        await service.close()

    run(scenario)


def test_too_many_waiting_hashes_are_answered_busy_at_once() -> None:
    async def scenario() -> None:
        service = await started_service()
        guard = service.identity.passwords
        for _ in range(MAX_WAITING_HASHES):
            await guard._slots.acquire()  # as if that many hashes were queued
        with pytest.raises(UnavailableError, match="busy"):
            await service.identity.connect("newcomer", "pw")
        for _ in range(MAX_WAITING_HASHES):
            guard._slots.release()
        await service.identity.connect("newcomer", "pw")
        await service.close()

    run(scenario)


def test_sessions_past_the_cap_evict_the_least_recently_used_one() -> None:
    async def scenario() -> None:
        clock = FakeClock()
        service = await started_service(settings=evolve(FAST, max_sessions_per_user=2), clock=clock)
        first, _ = await connect(service, "ann")
        second, _ = await connect(service, "ann")
        clock.advance(1.0)
        service.identity.authenticate(first.token)  # the first session is in use
        await connect(service, "ann")
        service.identity.authenticate(first.token)
        with pytest.raises(UnauthorizedError):
            service.identity.authenticate(second.token)
        await service.close()

    run(scenario)


def test_a_user_lists_and_revokes_their_own_sessions_only() -> None:
    async def scenario() -> None:
        service = await started_service()
        phone, ann_phone = await connect(service, "ann")
        laptop, ann_laptop = await connect(service, "ann")
        _, bob = await connect(service, "bob")
        listed = service.identity.sessions(ann_laptop)
        assert [s.id for s in listed] == [ann_phone.id, ann_laptop.id]
        assert [s.current for s in listed] == [False, True]
        with pytest.raises(NotFoundError):
            await service.identity.revoke(bob, ann_phone.id)
        await service.identity.revoke(ann_laptop, ann_phone.id)
        with pytest.raises(UnauthorizedError):
            service.identity.authenticate(phone.token)
        service.identity.authenticate(laptop.token)
        assert [s.id for s in service.identity.sessions(ann_laptop)] == [ann_laptop.id]
        await service.close()

    run(scenario)


def test_a_session_idle_too_long_stops_working_at_once() -> None:
    async def scenario() -> None:
        clock = FakeClock()
        service = await started_service(settings=evolve(FAST, session_idle_s=100.0), clock=clock)
        idle, _ = await connect(service, "ann")
        clock.advance(100.1)
        with pytest.raises(UnauthorizedError, match="expired"):  # before any sweep
            service.identity.authenticate(idle.token)
        await service.close()

    run(scenario)


def test_an_unused_session_expires_and_a_used_one_stays() -> None:
    async def scenario() -> None:
        clock = FakeClock()
        settings = evolve(FAST, session_idle_s=100.0, session_touch_interval_s=10.0)
        service = await started_service(settings=settings, clock=clock)
        idle, _ = await connect(service, "ann")
        busy, _ = await connect(service, "ann")
        for _ in range(12):
            clock.advance(10.0)
            service.identity.authenticate(busy.token)
            await service.identity.maintain()
        with pytest.raises(UnauthorizedError, match="revoked"):  # closed by `maintain`
            service.identity.authenticate(idle.token)
        assert len(service.core.model.users.by_id) == 1
        service.identity.authenticate(busy.token)
        await service.close()

        again = await started_service(service.core.event_log, settings=settings, clock=clock)
        again.identity.authenticate(busy.token)  # its activity was written down
        await again.close()

    run(scenario)
