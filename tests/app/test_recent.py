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
