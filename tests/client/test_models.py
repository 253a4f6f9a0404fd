"""Property tests of the client's parsers, session file, rendering and backoff."""

from __future__ import annotations

import itertools
import json
import stat
import tempfile
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from client.follow import Backoff
from client.http import BadResponseError
from client.models import (
    ApiErrorBody,
    Event,
    EventsPage,
    HistoryPage,
    Message,
    Room,
    Status,
    Welcome,
)
from client.render import clock, event_line, message_line, room_label
from client.state import Session, StateError, StateStore, state_dir

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


@given(messages())
def test_message_round_trip(raw: dict[str, Any]) -> None:
    message = Message.from_json(json.loads(json.dumps(raw)))
    assert (message.id, message.room, message.author, message.text) == (
        raw["id"],
        raw["room"],
        raw["author"],
        raw["text"],
    )
    assert message.ts == float(raw["ts"])
    assert message.file_name == (raw["file"]["name"] if "file" in raw else None)
    assert message.raw == raw


@given(st.lists(messages(), max_size=5), offsets, st.text(min_size=1))
def test_events_page_round_trip(raws: list[dict[str, Any]], nxt: int, log: str) -> None:
    events = [
        {"offset": m["id"], "ts": m["ts"], "type": "message.sent", "message": m} for m in raws
    ]
    events.append({"offset": nxt, "ts": 1.5, "type": "room.member_joined", "room": "general"})
    page = EventsPage.from_json({"events": events, "next": nxt, "log": log})
    assert page.next == nxt
    assert page.log == log
    assert [e.message.text for e in page.events if e.message] == [m["text"] for m in raws]
    assert page.events[-1].message is None
    assert page.events[-1].raw["room"] == "general"


@given(rooms)
def test_room_round_trip(raw: dict[str, Any]) -> None:
    room = Room.from_json(raw)
    assert (room.id, room.name, room.kind, room.owner, room.unread) == (
        raw["id"], raw["name"], raw["kind"], raw["owner"], raw["unread"],
    )  # fmt: skip
    assert room.members == tuple(raw["members"])


@pytest.mark.parametrize("model", [Message, Room, Status, Welcome, Event, EventsPage, HistoryPage])
@given(value=json_values)
def test_any_json_parses_or_is_a_bad_response(model: Any, value: object) -> None:
    try:
        parsed = model.from_json(value)
    except BadResponseError:
        return
    assert isinstance(parsed, model)
    assert isinstance(value, dict)  # every shape is a JSON object


VALID: list[tuple[Any, dict[str, Any]]] = [
    (Message, {"id": 1, "room": "g", "author": "a", "text": "t", "ts": 1, "comments": 2}),
    (Room, {"id": "g", "name": "n", "kind": "group", "owner": "a", "members": ["a"]}),
    (HistoryPage, {"messages": [], "next_before": 3}),
    (EventsPage, {"events": [{"offset": 1, "ts": 0, "type": "x"}], "next": 1, "log": "l"}),
    (Status, {"user": {"name": "a"}, "log": "l", "offset": 1, "cursor": 0, "rooms": [],
              "online": ["a"], "sessions": [{"id": 1, "opened_at": 0, "current": True}]}),
    (Welcome, {"token": "t", "user": "a", "log": "l", "offset": 1, "cursor": 0,
               "general": {"messages": []}, "unread": [], "rooms": []}),
]  # fmt: skip


@pytest.mark.parametrize(("model", "good"), VALID, ids=lambda v: getattr(v, "__name__", ""))
@given(data=st.data())
def test_a_damaged_field_is_a_bad_response_or_read_as_it_came(
    model: Any, good: dict[str, Any], data: st.DataObject
) -> None:
    assert isinstance(model.from_json(good), model)
    key = data.draw(st.sampled_from(sorted(good)))
    damaged = {**good, key: data.draw(json_values)}
    try:
        parsed = model.from_json(damaged)
    except BadResponseError:
        return
    assert isinstance(parsed, model)


def test_a_boolean_is_never_a_count() -> None:
    message: dict[str, Any] = {"id": 1, "room": "g", "author": "a", "text": "t", "ts": 1}
    assert Message.from_json({**message, "comments": True}).comments == 0
    room: dict[str, Any] = {"id": "g", "name": "n", "kind": "group", "owner": None, "members": []}
    assert Room.from_json({**room, "unread": True}).unread is None


@given(json_values, st.integers(400, 599))
def test_error_bodies_never_fail(value: object, status: int) -> None:
    body = ApiErrorBody.from_json(value, status)
    assert body.code
    assert body.message


def test_error_body_keeps_code_message_and_extra() -> None:
    body = ApiErrorBody.from_json(
        {"error": {"code": "rate_limited", "message": "slow down", "retry_after": 3}}, 429
    )
    assert (body.code, body.message, dict(body.extra)) == (
        "rate_limited",
        "slow down",
        {"retry_after": 3},
    )
    assert ApiErrorBody.from_json("<html>", 502).message == "the server answered 502"


def test_a_boolean_is_not_a_number() -> None:
    with pytest.raises(BadResponseError, match=r"message\.id"):
        Message.from_json({"id": True, "room": "g", "author": "a", "text": "t", "ts": 1})


sessions = st.builds(
    Session,
    server=st.just("http://127.0.0.1:8000"),
    log=st.text(min_size=1),
    token=st.text(min_size=1),
    user=names,
    offset=offsets,
    room=st.sampled_from(["general", "dm:a:b", "g3"]),
)


@given(sessions)
def test_session_file_round_trip(session: Session) -> None:
    with tempfile.TemporaryDirectory() as directory:
        store = StateStore(Path(directory) / "nested", "work.1")
        assert store.load() is None
        store.save(session)
        assert store.load() == session
        assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
        assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700
        store.save(session.at(session.offset + 1))
        loaded = store.load()
        assert loaded is not None
        assert loaded.offset == session.offset + 1
        assert [p.name for p in store.path.parent.iterdir()] == ["work.1.json"]
        assert store.delete()
        assert not store.delete()


@pytest.mark.parametrize(
    "content",
    ["", "[]", "{}", '{"server": "s", "log": "l", "token": "t", "user": "u", "offset": -1}'],
)
def test_a_broken_session_file_is_a_state_error(tmp_path: Path, content: str) -> None:
    store = StateStore(tmp_path, "default")
    store.path.write_text(content)
    with pytest.raises(StateError):
        store.load()


@pytest.mark.parametrize("profile", ["", "../x", "a/b", "x" * 65, "é"])
def test_profile_names_cannot_escape_the_directory(tmp_path: Path, profile: str) -> None:
    with pytest.raises(ValueError, match="profile"):
        StateStore(tmp_path, profile)


def test_state_dir() -> None:
    assert state_dir({"CHAT_HOME": "/x/y"}) == Path("/x/y")
    assert state_dir({}) == Path.home() / ".config" / "chat"


@given(messages(), names)
def test_a_message_line_cannot_carry_terminal_controls(raw: dict[str, Any], me: str) -> None:
    line = message_line(Message.from_json(raw), me)
    assert all(c == "\n" or unicodedata.category(c) != "Cc" for c in line)
    if not any(unicodedata.category(c) == "Cc" for c in raw["text"]):
        assert raw["text"] in line  # ordinary text (any script, NBSP, emoji) is kept
    assert line.startswith(clock(float(raw["ts"])))


def test_message_line_shape() -> None:
    message = Message.from_json(
        {"id": 1, "room": "dm:alice:bob", "author": "Bob", "text": "a\nb\x1b[2J", "ts": 0}
    )
    assert message_line(message, "Alice") == f"{clock(0)} [@bob] Bob: a\n      b\ufffd[2J"


@given(names, names)
def test_room_label_names_the_other_participant(me: str, other: str) -> None:
    first, second = sorted((me.casefold(), other.casefold()))
    label = room_label(f"dm:{first}:{second}", me)
    assert label == "@" + (other.casefold() if other.casefold() != me.casefold() else first)
    assert room_label("general", me) == "general"


def test_event_lines() -> None:
    def event(kind: str, **fields: Any) -> Event:
        return Event.from_json({"offset": 5, "ts": 0, "type": kind, **fields})

    assert event_line(event("cursor.moved", user="a", cursor=3), "a") is None
    joined = event_line(event("room.member_joined", room="g4", user="carol"), "a")
    assert joined == f"{clock(0)} * carol joined g4"
    created = event("room.created", room={"id": "g9", "name": "team", "owner": "bo"})
    assert event_line(created, "a") == f"{clock(0)} * room g9 (team) created by bo"
    direct = event("room.created", room={"id": "dm:a:bo", "name": "whoever", "owner": None})
    assert event_line(direct, "a") == f"{clock(0)} * room @bo created"
    # A type from a newer server than this client: named, not dropped.
    assert event_line(event("room.repainted"), "a") == f"{clock(0)} * room.repainted"


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
