"""Backoff between retries."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from client.retry import Backoff


@given(st.integers(1, 30))
def test_backoff_doubles_up_to_its_cap_and_resets(failures: int) -> None:
    backoff = Backoff()
    delays = [backoff.next_delay() for _ in range(failures)]
    assert delays[0] == pytest.approx(0.2)
    assert delays == sorted(delays)
    assert max(delays) <= 5.0
    assert all(b in (a * 2, 5.0) for a, b in itertools.pairwise(delays))
    assert backoff.reset()
    assert not backoff.reset()
    assert backoff.next_delay() == pytest.approx(0.2)
