"""Hypothesis strategies for the API's JSON: any value, names, messages, rooms."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)

names = st.text(
    st.characters(categories=["L", "Nd"]) | st.sampled_from("_-."), min_size=1, max_size=32
)

offsets = st.integers(min_value=0, max_value=2**53)

times = st.floats(min_value=0, max_value=4e9, allow_nan=False)


@st.composite
def messages(draw: st.DrawFn) -> dict[str, Any]:
    message: dict[str, Any] = {
        "id": draw(offsets),
        "room": draw(st.sampled_from(["general", "g42", "dm:alice:bob"])),
        "author": draw(names),
        "text": draw(st.text(min_size=1, max_size=200)),
        "ts": draw(times | st.integers(0, 2**31)),
        "comments": draw(st.integers(0, 100)),
    }
    if draw(st.booleans()):
        message["file"] = {"name": draw(st.text(min_size=1)), "size": 3}
    return message


rooms = st.fixed_dictionaries(
    {
        "id": st.sampled_from(["general", "g7", "dm:a:b"]),
        "name": names,
        "kind": st.sampled_from(["general", "group", "direct"]),
        "owner": st.none() | names,
        "members": st.lists(names, max_size=5),
        "unread": st.integers(0, 1000),
    }
)
