"""Write budgets: every kind of write of one user is bounded in requests and bytes."""

from __future__ import annotations

import pytest
from attrs import evolve
from hypothesis import given
from hypothesis import strategies as st

from app import Budget
from app.budgets import Budgets
from domain import GENERAL, RateLimitedError
from tests.app.support import FAST, FakeClock, login, run, send, started_service


@pytest.mark.parametrize(
    ("text", "budget"),
    [
        ("60", Budget(requests=60)),
        ("60,512KiB", Budget(requests=60, bytes=512 * 1024)),
        ("30,200MiB/1h", Budget(requests=30, bytes=200 * 1024**2, window_s=3600.0)),
        ("5/30s", Budget(requests=5, window_s=30.0)),
        ("5/m", Budget(requests=5, window_s=60.0)),
        ("7,100/2d", Budget(requests=7, bytes=100, window_s=2 * 86400.0)),
    ],
)
def test_budgets_parse(text: str, budget: Budget) -> None:
    assert Budget.parse(text) == budget
    assert Budget.parse(str(budget)) == budget


@pytest.mark.parametrize("text", ["", "x", "-1", "5,", "5/0s", "5/1y", "5,3GB", "1_0"])
def test_bad_budgets_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="budget"):
        Budget.parse(text)


def test_a_bucket_allows_a_burst_then_the_steady_rate() -> None:
    clock = FakeClock()
    budgets = Budgets({"messages": Budget(requests=3, window_s=30.0)}, clock)
    for _ in range(3):
        budgets.charge("ann", "messages")
    with pytest.raises(RateLimitedError) as refused:
        budgets.charge("ann", "messages")
    assert refused.value.retry_after_s == pytest.approx(10.0)  # one request per 10 s
    budgets.charge("bob", "messages")  # budgets are per user
    clock.advance(9.9)
    with pytest.raises(RateLimitedError):
        budgets.charge("ann", "messages")
    clock.advance(0.2)
    budgets.charge("ann", "messages")


def test_bytes_are_counted_too_and_a_forced_charge_goes_into_debt() -> None:
    clock = FakeClock()
    budgets = Budgets({"uploads": Budget(requests=100, bytes=1000, window_s=100.0)}, clock)
    budgets.charge("ann", "uploads", size=900)
    with pytest.raises(RateLimitedError, match="1000") as refused:
        budgets.charge("ann", "uploads", size=200)
    assert refused.value.retry_after_s == pytest.approx(10.0)  # 10 bytes per second
    budgets.charge("ann", "uploads", size=5000, force=True)  # the rest of a chunked upload
    clock.advance(50.0)
    with pytest.raises(RateLimitedError):
        budgets.charge("ann", "uploads", size=1)


def test_refilled_buckets_are_forgotten() -> None:
    clock = FakeClock()
    budgets = Budgets({"rooms": Budget(requests=2, window_s=10.0)}, clock)
    budgets.charge("ann", "rooms")
    budgets.charge("bob", "rooms")
    clock.advance(8.0)
    budgets.charge("bob", "rooms")
    clock.advance(2.0)
    assert budgets.forget_idle() == 1  # ann refilled, bob not yet
    assert len(budgets) == 1


@given(
    steps=st.lists(st.tuples(st.floats(0, 20), st.integers(0, 300)), max_size=40),
)
def test_no_window_ever_lets_more_through_than_the_budget(steps: list[tuple[float, int]]) -> None:
    # Over any stretch of time T, at most requests * (1 + T / window) get through.
    clock = FakeClock()
    budget = Budget(requests=4, bytes=1000, window_s=10.0)
    budgets = Budgets({"messages": budget}, clock)
    start = clock.now
    accepted = 0
    taken = 0
    for wait, size in steps:
        clock.advance(wait)
        try:
            budgets.charge("ann", "messages", size=size)
        except RateLimitedError:
            continue
        accepted += 1
        taken += size
    elapsed = clock.now - start
    assert accepted <= budget.requests * (1 + elapsed / budget.window_s) + 1e-9
    assert taken <= budget.bytes * (1 + elapsed / budget.window_s) + 1e-9


TIGHT = evolve(
    FAST,
    budget_messages=Budget(requests=3, bytes=100, window_s=60.0),
    budget_comments=Budget(requests=2, window_s=60.0),
    budget_schedule=Budget(requests=2, window_s=60.0),
    budget_rooms=Budget(requests=2, window_s=60.0),
    budget_reports=Budget(requests=1, window_s=60.0),
)


def test_every_kind_of_write_has_its_budget() -> None:
    async def scenario() -> None:
        clock = FakeClock()
        service = await started_service(settings=TIGHT, clock=clock)
        ann = await login(service, "ann")
        await login(service, "bob")
        first = await send(service, ann, "one")
        await send(service, ann, "direct", to="bob")  # direct messages count too
        await send(service, ann, "x" * 90)
        with pytest.raises(RateLimitedError, match="messages"):
            await send(service, ann, "four")
        for text in ("a", "b"):
            await service.messages.comment(ann, first.id, text=text)
        with pytest.raises(RateLimitedError, match="comments"):
            await service.messages.comment(ann, first.id, text="c")
        at = clock.now + 100
        scheduled = await service.messages.send(ann, text="later", send_at=at)
        await service.schedule.cancel(ann, scheduled.id)
        with pytest.raises(RateLimitedError, match="schedule"):
            await service.messages.send(ann, text="later", send_at=at)
        await service.rooms.create(ann, name="one")
        await service.rooms.create(ann, name="two")
        with pytest.raises(RateLimitedError, match="rooms"):
            await service.rooms.create(ann, name="three")
        await service.moderation.report(ann, "bob")
        with pytest.raises(RateLimitedError, match="reports"):
            await service.moderation.report(ann, "bob")
        clock.advance(60.0)  # a window later, all is forgiven
        await send(service, ann, "again")
        await service.close()

    run(scenario)


def test_the_message_budget_counts_bytes() -> None:
    async def scenario() -> None:
        service = await started_service(settings=TIGHT)
        ann = await login(service, "ann")
        await send(service, ann, "я" * 50)  # 100 bytes in UTF-8
        with pytest.raises(RateLimitedError, match="100 of them"):
            await send(service, ann, "x")
        await service.close()

    run(scenario)


def test_a_retried_send_is_not_charged_again() -> None:
    async def scenario() -> None:
        service = await started_service(settings=TIGHT)
        ann = await login(service, "ann")
        first = await send(service, ann, "once", idempotency_key="k")
        for _ in range(5):
            assert await send(service, ann, "once", idempotency_key="k") == first
        await send(service, ann, "two")
        await service.close()

    run(scenario)


GENERAL_WINDOW = evolve(FAST, rate_limit=2)


def test_comments_in_general_count_in_its_window() -> None:
    async def scenario() -> None:
        service = await started_service(settings=GENERAL_WINDOW)
        ann = await login(service, "ann")
        bob = await login(service, "bob")
        message = await send(service, bob, "hello")
        await service.messages.comment(ann, message.id, text="hi")
        await send(service, ann, "one")
        with pytest.raises(RateLimitedError, match="general"):
            await service.messages.comment(ann, message.id, text="and again")
        with pytest.raises(RateLimitedError, match="general"):
            await send(service, ann, "two", room=GENERAL)
        await service.close()

    run(scenario)
