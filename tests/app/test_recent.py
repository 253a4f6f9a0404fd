"""Recent events: the per-user walk keeps every event the user may be in the audience of."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.recent import RecentEvents
from domain import CursorMoved, MessageSent

USERS = ["a", "b", "c"]
audiences = st.one_of(st.none(), st.frozensets(st.sampled_from(USERS), max_size=3))


@given(
    capacity=st.integers(1, 8),
    events=st.lists(audiences, max_size=60),
    user=st.sampled_from(USERS),
    bounds=st.tuples(st.integers(0, 70), st.integers(0, 70)),
)
def test_for_user_is_between_minus_what_only_others_may_see(
    capacity: int, events: list[frozenset[str] | None], user: str, bounds: tuple[int, int]
) -> None:
    recent = RecentEvents(capacity)
    for offset, audience in enumerate(events, start=1):
        recent.add(offset, float(offset), CursorMoved(user="x", cursor=offset), audience)
    after, upto = min(bounds), max(bounds)
    after = max(after, recent.first_offset - 1)
    expected = [
        seen[0]
        for seen in recent.between(after, upto)
        if seen[3] is None or user in seen[3] or len(seen[3]) > 1
    ]
    assert [seen[0] for seen in recent.for_user(user, after, upto)] == expected


def test_the_window_is_bounded_in_bytes_as_well_as_in_events() -> None:
    recent = RecentEvents(1000, max_bytes=100_000)
    for offset in range(1, 201):
        recent.add(offset, 0.0, MessageSent(room="general", author="a", text="x" * 1000), None)
        assert recent.held_bytes <= 100_000
    assert recent.first_offset > 100  # the oldest went; polls read them from the log
    assert [entry[0] for entry in recent.between(199, 200)] == [200]


@given(offsets=st.lists(st.integers(1, 4), max_size=40), capacity=st.integers(1, 8))
def test_the_window_is_a_dense_run_after_the_last_hole(offsets: list[int], capacity: int) -> None:
    """Compaction leaves holes: the window starts again after one; polls before it read the log."""
    recent, offset = RecentEvents(capacity), 0
    for step in offsets:
        offset += step
        recent.add(offset, 0.0, CursorMoved(user="a", cursor=offset), None)
        held = [seen[0] for seen in recent.between(0, offset)]
        assert held == list(range(recent.first_offset, offset + 1))
        assert [seen[0] for seen in recent.for_user("a", 0, offset)] == held


def test_a_start_from_a_snapshot_leaves_the_window_empty_at_the_head() -> None:
    recent = RecentEvents(8)
    recent.start_after(1_000)
    assert recent.first_offset == 1_001  # polls after less than 1000 read the log
    recent.add(1_001, 0.0, CursorMoved(user="a", cursor=1), None)
    assert [seen[0] for seen in recent.between(0, 1_001)] == [1_001]
