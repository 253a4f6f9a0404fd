"""The SSE parser of `chat`: events cut from a body however it is split."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from client.event_stream import MAX_EVENT_BYTES, SseEvent, SseParser
from client.http import NetworkError

BODY = (
    b"retry: 1000\n\n"
    b": events after 17\n\n"
    b'id: 18\nevent: message.sent\ndata: {"a":1}\n\n'
    b":\n\n"
    b"id: 21\n\n"
    b"id: 22\r\nevent: room.created\r\ndata: one\r\ndata: two\r\n\r\n"
    b"retry: soon\n\n"
)
EXPECTED = [
    SseEvent(None, None, None, 1000),
    SseEvent("18", "message.sent", '{"a":1}'),
    SseEvent("21", None, None),
    SseEvent("22", "room.created", "one\ntwo"),
]


def test_events_comments_ids_and_retry() -> None:
    assert SseParser().feed(BODY) == EXPECTED


@given(st.lists(st.integers(min_value=0, max_value=len(BODY)), max_size=12))
def test_any_split_of_the_body_gives_the_same_events(cuts: list[int]) -> None:
    parser = SseParser()
    events: list[SseEvent] = []
    bounds = [0, *sorted(cuts), len(BODY)]
    for start, end in itertools.pairwise(bounds):
        events.extend(parser.feed(BODY[start:end]))
    assert events == EXPECTED


def test_an_endless_line_is_refused() -> None:
    parser = SseParser()
    with pytest.raises(NetworkError, match="too large"):
        parser.feed(b"data: " + b"x" * (MAX_EVENT_BYTES + 1))
