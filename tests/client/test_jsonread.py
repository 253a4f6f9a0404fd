"""The JSON readers: one rule for booleans and numbers, wherever a shape is read."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from client.http import BadResponseError
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
    obj,
    parsed_or_none,
    string,
    string_or_none,
    user_name,
)

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()


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
        assert got == value


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
