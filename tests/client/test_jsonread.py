"""The JSON readers: one rule for booleans and numbers, wherever a shape is read.

Every shape the client reads is checked here against any JSON and against
damaged copies of a valid object: it parses, or it is a BadResponseError.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from client.http import BadResponseError
from client.identity import Status, Welcome
from client.jsonread import (
    answer_list,
    array,
    boolean,
    flag,
    integer,
    integer_or_none,
    is_a,
    member,
    nullable_array,
    nullable_integer,
    nullable_number,
    number,
    number_or_none,
    obj,
    parsed_or_none,
    string,
    string_or_none,
    user_name,
)
from client.messages import Comment, HistoryPage, Message
from client.moderation import ReportOutcome
from client.polling import Event, EventsPage
from client.rooms import Room
from client.rooms_joining import JoinLink, JoinRequest
from client.schedule import Scheduled
from tests.client.strategies import json_values

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**1000), max_value=2**1000)
    | st.floats(allow_nan=False)
    | st.text()
)


@given(json_scalars | st.lists(st.integers(), max_size=2))
def test_a_boolean_is_never_a_number_and_a_number_never_a_boolean(value: Any) -> None:
    fields = {"v": value}
    for read, kind in ((integer, int), (number, (int, float)), (boolean, bool)):
        try:
            got = read(fields, "v", "x")
        except BadResponseError:
            assert not is_a(value, kind)
            continue
        assert isinstance(value, bool) == (read is boolean)
        assert got == (float(value) if read is number else value)  # 2**53 + 1 is no float


def test_the_readers_name_the_place_that_is_wrong() -> None:
    with pytest.raises(BadResponseError, match=r"^message\.id is missing or not int$"):
        integer({"id": True}, "id", "message")
    with pytest.raises(BadResponseError, match=r"^report\.banned is missing or not bool$"):
        boolean({"banned": 1}, "banned", "report")
    with pytest.raises(BadResponseError, match=r"^event\.ts is missing or not int or float$"):
        number({}, "ts", "event")
    with pytest.raises(BadResponseError, match=r"^answer\.comment is not a JSON object$"):
        member({"comment": []}, "comment", "answer")
    with pytest.raises(BadResponseError, match=r"^status is not a JSON object$"):
        obj([], "status")


def test_required_nullable_and_lenient_fields() -> None:
    fields = {"s": "x", "i": 3, "f": 1.5, "l": [1], "t": True, "n": None}
    assert (string(fields, "s", "o"), integer(fields, "i", "o"), number(fields, "i", "o")) == (
        "x", 3, 3.0,
    )  # fmt: skip
    assert array(fields, "l", "o") == [1]
    assert nullable_integer(fields, "n", "o") is None
    assert nullable_number(fields, "missing", "o") is None
    assert nullable_array(fields, "l", "o") == [1]
    with pytest.raises(BadResponseError):
        nullable_integer(fields, "t", "o")
    with pytest.raises(BadResponseError):
        nullable_array(fields, "s", "o")
    assert string_or_none(fields, "i") is None
    assert integer_or_none(fields, "t") is None
    assert integer_or_none(fields, "i") == 3
    assert flag(fields, "t")
    assert not flag({"t": 1}, "t")
    assert user_name("bob", "u") == user_name({"name": "bob"}, "u") == "bob"
    assert answer_list({"requests": []}, "requests") == []
    with pytest.raises(BadResponseError):
        answer_list({"requests": {}}, "requests")
    assert parsed_or_none(lambda v: obj(v, "x"), 5) is None


@pytest.mark.parametrize("model", [Message, Room, Status, Welcome, Event, EventsPage, HistoryPage])
@given(value=json_values)
def test_any_json_parses_or_is_a_bad_response(model: Any, value: object) -> None:
    try:
        parsed = model.from_json(value)
    except BadResponseError:
        return
    assert isinstance(parsed, model)
    assert isinstance(value, dict)  # every shape is a JSON object


def test_a_boolean_is_not_a_number() -> None:
    with pytest.raises(BadResponseError, match=r"message\.id"):
        Message.from_json({"id": True, "room": "g", "author": "a", "text": "t", "ts": 1})


def test_a_boolean_is_never_a_count() -> None:
    message: dict[str, Any] = {"id": 1, "room": "g", "author": "a", "text": "t", "ts": 1}
    assert Message.from_json({**message, "comments": True}).comments == 0
    room: dict[str, Any] = {"id": "g", "name": "n", "kind": "group", "owner": None, "members": []}
    assert Room.from_json({**room, "unread": True}).unread is None


COMMENT = {"id": 9, "message": 3, "room": "general", "author": "bob", "text": "hi", "ts": 1.5}

SCHEDULED = {"id": 7, "author": "a", "text": "t", "send_at": 100, "status": "pending", "to": "b"}

REQUEST = {"room": "g4", "user": "carol", "status": "pending", "requested_at": 5.0}

LINK = {"room": "g4", "token": "tok", "path": "/join/tok"}

REPORT = {"user": "eve", "banned": True}


MESSAGE = {"id": 1, "room": "g", "author": "a", "text": "t", "ts": 1, "comments": 2}
ROOM = {"id": "g", "name": "n", "kind": "group", "owner": "a", "members": ["a"]}
HISTORY = {"messages": [MESSAGE], "next_before": 3}
STATUS = {"user": {"name": "a"}, "log": "l", "offset": 1, "cursor": 0, "rooms": [ROOM],
          "online": ["a"], "sessions": [{"id": 1, "opened_at": 0, "current": True}]}  # fmt: skip


SHAPES: list[tuple[Any, dict[str, Any]]] = [
    (Comment, COMMENT),
    (Scheduled, SCHEDULED),
    (JoinRequest, REQUEST),
    (JoinLink, LINK),
    (ReportOutcome, REPORT),
    (Message, MESSAGE),
    (Room, ROOM),
    (HistoryPage, HISTORY),
    (Status, STATUS),
]


@pytest.mark.parametrize(("model", "good"), SHAPES, ids=lambda v: getattr(v, "__name__", ""))
def test_each_shape_parses_and_keeps_its_raw_object(model: Any, good: dict[str, Any]) -> None:
    assert model.from_json(good).raw == good


small_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)


@pytest.mark.parametrize(("model", "good"), SHAPES, ids=lambda v: getattr(v, "__name__", ""))
@given(data=st.data())
def test_a_damaged_shape_is_a_bad_response_never_a_crash(
    model: Any, good: dict[str, Any], data: st.DataObject
) -> None:
    key = data.draw(st.sampled_from(sorted(good)))
    value = data.draw(small_json_values)
    damaged = {**good, key: value}
    try:
        parsed = model.from_json(damaged)
    except BadResponseError:
        return
    assert parsed.raw == damaged


def test_a_scheduled_message_needs_a_target_and_a_report_a_boolean() -> None:
    with pytest.raises(BadResponseError):
        Scheduled.from_json({k: v for k, v in SCHEDULED.items() if k != "to"})
    with pytest.raises(BadResponseError):
        ReportOutcome.from_json({"user": "eve", "banned": 1})
    with pytest.raises(BadResponseError):
        Comment.from_json({**COMMENT, "id": True})


def test_a_number_too_large_for_a_float_is_a_bad_answer_not_a_crash() -> None:
    with pytest.raises(BadResponseError, match="too large"):
        number({"ts": 10**400}, "ts", "event")
    assert number_or_none({"ts": 10**400}, "ts") is None
