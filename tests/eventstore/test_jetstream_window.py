"""The rounds a replica holds (`RoundWindow`), where rounds are (`SequenceMap`), in memory only."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eventstore import NotLoadedError, OffsetOutOfRangeError, StreamRound
from eventstore.format import encode_payload
from eventstore.jetstream_rounds import SPARSE_OFFSETS, RoundWindow, SequenceMap


def make_round(first: int, count: int, seq: int, *, text_bytes: int = 10) -> StreamRound:
    body = b"".join(
        encode_payload(
            offset, float(offset), "note.v1", {"t": "x" * text_bytes}, max_frame_bytes=1 << 20
        )
        for offset in range(first, first + count)
    )
    return StreamRound(first, count, body, seq)


def rounds_of(counts: list[int], sizes: list[int]) -> list[StreamRound]:
    made, first = [], 1
    for seq, (count, size) in enumerate(zip(counts, sizes, strict=True), start=2):
        made.append(make_round(first, count, seq, text_bytes=size))
        first += count
    return made


@given(
    st.lists(st.tuples(st.integers(1, 5), st.integers(0, 3000)), min_size=1, max_size=60),
    st.integers(4096, 40_000),
)
def test_the_window_holds_the_newest_rounds_whole_within_its_bound(
    shape: list[tuple[int, int]], max_bytes: int
) -> None:
    made = rounds_of([c for c, _ in shape], [s for _, s in shape])
    window = RoundWindow(max_bytes, fetched_bytes=0)
    for round_ in made:
        records = window.add(round_)
        assert [r.offset for r in records] == list(range(round_.first, round_.last + 1))
    head = made[-1].last
    assert window.head == head
    first = window.first_offset
    held = [r for r in made if r.first >= first]
    assert held
    assert held[-1] is made[-1]  # the newest round is always held
    assert held[0].first == first  # whole rounds, a run up to the head
    if len(held) > 1:
        assert window.size_bytes <= max_bytes
    for round_ in held:  # the bytes in the buffer are the round's, not overwritten
        found = window.find(round_.first)
        assert found is not None
        assert bytes(found.body) == round_.body
    expected = [r for round_ in held for r in round_.records()]
    assert list(window.iter_range(first, head)) == expected
    assert [window.read(n) for n in range(first, head + 1)] == expected
    if first > 1:
        with pytest.raises(NotLoadedError):
            window.read(first - 1)
        with pytest.raises(NotLoadedError):
            list(window.iter_range(1, head))
    with pytest.raises(OffsetOutOfRangeError):
        window.read(head + 1)


def test_a_round_larger_than_half_the_window_is_held_as_it_came() -> None:
    window = RoundWindow(8192, fetched_bytes=0)
    small, big = make_round(1, 2, 2), make_round(3, 1, 3, text_bytes=6000)
    window.add(small)
    window.add(big)
    assert window.first_offset == 1
    assert window.read(3).data == {"t": "x" * 6000}
    window.add(make_round(4, 1, 4, text_bytes=9000))  # alone over the bound: only it is left
    assert window.first_offset == 4
    assert window.read(4).data == {"t": "x" * 9000}


def test_fetched_rounds_serve_reads_until_pushed_out_by_later_fetches() -> None:
    made = rounds_of([3] * 10, [100] * 10)
    window = RoundWindow(4096, fetched_bytes=made[0].size * 2)
    window.reset(made[8].first - 1)
    window.add(made[8])
    window.add(made[9])
    assert window.missing(1, 30) == 1
    window.remember(made[0:3])  # over the bound, but those of this fetch are all kept
    assert window.missing(1, 9) is None
    assert window.missing(1, 12) == 10
    assert [r.offset for r in window.iter_range(2, 8)] == list(range(2, 9))
    window.remember(made[3:4])  # the least recently used go first
    assert window.missing(1, 3) == 1
    assert window.missing(10, 12) is None
    assert window.fetched_size_bytes <= made[0].size * 2


def test_the_sequence_map_keeps_sparse_points_and_bounds_an_offset() -> None:
    seq_map = SequenceMap()
    assert seq_map.bounds(10) == (None, None)
    for seq, first in enumerate(range(1, 10 * SPARSE_OFFSETS, 16), start=2):
        seq_map.note(first, seq)
    assert 9 <= len(seq_map) <= 11  # about one point per SPARSE_OFFSETS offsets
    low, high = seq_map.bounds(5 * SPARSE_OFFSETS)
    assert low is not None
    assert high is not None
    assert low < high
    first_seq_of = {first: seq for seq, first in enumerate(range(1, 10 * SPARSE_OFFSETS, 16), 2)}
    holding = max(f for f in first_seq_of if f <= 5 * SPARSE_OFFSETS)
    assert low <= first_seq_of[holding] < high
