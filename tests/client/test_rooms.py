"""Rooms: their JSON, and rooms and members as they are typed."""

from __future__ import annotations

from typing import Any

from hypothesis import given

from client.rooms import Room, members_list
from client.terminal import room_id
from tests.client.strategies import rooms


@given(rooms)
def test_room_round_trip(raw: dict[str, Any]) -> None:
    room = Room.from_json(raw)
    assert (room.id, room.name, room.kind, room.owner, room.unread) == (
        raw["id"], raw["name"], raw["kind"], raw["owner"], raw["unread"],
    )  # fmt: skip
    assert room.members == tuple(raw["members"])


def test_room_and_member_arguments() -> None:
    assert room_id("@Bob", "alice") == "dm:alice:bob"
    assert room_id("g12", "alice") == "g12"
    assert room_id("@", "alice") == "@"
    assert members_list("a, b,,c ") == ["a", "b", "c"]
    assert members_list(None) == []
