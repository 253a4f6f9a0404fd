"""How rooms read on the terminal."""

from __future__ import annotations

from hypothesis import given

from client.terminal import room_label
from tests.client.strategies import names


@given(names, names)
def test_room_label_names_the_other_participant(me: str, other: str) -> None:
    first, second = sorted((me.casefold(), other.casefold()))
    label = room_label(f"dm:{first}:{second}", me)
    assert label == "@" + (other.casefold() if other.casefold() != me.casefold() else first)
    assert room_label("general", me) == "general"
