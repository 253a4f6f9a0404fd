"""The event codec: every event round-trips; anything else fails loudly."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain import (
    EVENT_CODECS,
    CursorMoved,
    Event,
    EventDecodeError,
    MemberJoined,
    MessageSent,
    RoomCreated,
    SessionClosed,
    SessionOpened,
    UserRegistered,
    decode,
    encode,
    event_type,
)

text = st.text(max_size=40)
names = st.text(min_size=1, max_size=32)

events: st.SearchStrategy[Event] = st.one_of(
    st.builds(UserRegistered, user=names, password_hash=text),
    st.builds(SessionOpened, user=names, token_hash=text),
    st.builds(SessionClosed, user=names, session=st.integers(1, 2**40)),
    st.builds(
        RoomCreated,
        room=text,
        kind=st.sampled_from(["general", "group", "direct"]),
        name=text,
        owner=st.none() | names,
        members=st.lists(names, max_size=4).map(tuple),
    ),
    st.builds(MemberJoined, room=text, user=names),
    st.builds(MessageSent, room=text, author=names, text=text, idempotency_key=st.none() | text),
    st.builds(CursorMoved, user=names, cursor=st.integers(0, 2**40)),
)


@given(events)
def test_every_event_round_trips(event: Event) -> None:
    name, data = encode(event)
    assert name.endswith(".v1")
    assert name.startswith(event_type(event))
    assert decode(name, data) == event


def test_every_event_class_has_one_codec() -> None:
    assert len({c.name for c in EVENT_CODECS}) == len({c.cls for c in EVENT_CODECS})


def test_optional_fields_are_left_out_when_none() -> None:
    _, data = encode(MessageSent(room="general", author="a", text="t"))
    assert "idempotency_key" not in data


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("message.sent.v9", {"room": "r", "author": "a", "text": "t"}),
        ("no.such.v1", {}),
        ("message.sent.v1", {"room": "r", "author": "a"}),
        ("message.sent.v1", {"room": "r", "author": "a", "text": 5}),
        ("message.sent.v1", {"room": "r", "author": "a", "text": "t", "extra": 1}),
        ("cursor.moved.v1", {"user": "a", "cursor": True}),
        ("cursor.moved.v1", {"user": "a", "cursor": "5"}),
        ("room.created.v1", {"room": "r", "kind": "group", "name": "n", "members": [1]}),
        ("room.created.v1", {"room": "r", "kind": "group", "name": "n", "members": "ab"}),
    ],
)
def test_unreadable_events_are_refused(name: str, data: dict[str, Any]) -> None:
    with pytest.raises(EventDecodeError):
        decode(name, data)


def test_a_shape_that_decoded_once_is_still_checked_when_it_changes() -> None:
    good = {"room": "general", "author": "a", "text": "t"}
    assert decode("message.sent.v1", good) == decode("message.sent.v1", dict(good))
    with pytest.raises(EventDecodeError, match="wrong type"):
        decode("message.sent.v1", {**good, "text": 5})  # same names, another type
    with pytest.raises(EventDecodeError, match="unknown field"):
        decode("message.sent.v1", {**good, "extra": "x"})
