"""The rules, given a small state: when a command, then these events or this error."""

from __future__ import annotations

import pytest
from attrs import define, field

from domain import (
    GENERAL,
    ConflictError,
    CreateGeneral,
    CursorMoved,
    MemberJoined,
    MessageSent,
    MoveCursor,
    NotFoundError,
    NotMemberError,
    RegisterUser,
    RoomCreated,
    RulesConfig,
    ScryptCost,
    SendMessage,
    UserRegistered,
    ValidationError,
    check_text,
    check_user_name,
    decide,
    direct_room_id,
    hash_password,
    name_key,
    verify_password,
)

CONFIG = RulesConfig()


@define
class FakeState:
    users: dict[str, str] = field(factory=dict)
    rooms: dict[str, tuple[str, set[str]]] = field(factory=dict)
    cursors: dict[str, int] = field(factory=dict)

    def user_name(self, user: str) -> str | None:
        return self.users.get(name_key(user))

    def room_kind(self, room: str) -> str | None:
        return self.rooms[room][0] if room in self.rooms else None

    def is_member(self, room: str, user: str) -> bool:
        return room in self.rooms and name_key(user) in self.rooms[room][1]

    def session_is_open(self, session: int) -> bool:
        return False

    def cursor_of(self, user: str) -> int:
        return self.cursors.get(name_key(user), 0)


def state_with(*names: str) -> FakeState:
    state = FakeState(users={name_key(n): n for n in names})
    state.rooms[GENERAL] = ("general", {name_key(n) for n in names})
    return state


def test_general_is_created_once() -> None:
    assert decide(FakeState(), CreateGeneral(), now=0, config=CONFIG) == (
        RoomCreated(room=GENERAL, kind="general", name=GENERAL, members=()),
    )
    assert decide(state_with(), CreateGeneral(), now=0, config=CONFIG) == ()


def test_registering_joins_general_and_names_are_unique_ignoring_case() -> None:
    events = decide(state_with(), RegisterUser(name="Ann", password_hash="h"), now=0, config=CONFIG)
    assert events == (
        UserRegistered(user="Ann", password_hash="h"),
        MemberJoined(room=GENERAL, user="Ann"),
    )
    with pytest.raises(ConflictError):
        decide(state_with("ann"), RegisterUser(name="ANN", password_hash="h"), now=0, config=CONFIG)


def test_first_direct_message_creates_the_pair_room() -> None:
    state = state_with("bob", "Ann")
    events = decide(state, SendMessage(author="bob", text="hi", to="ANN"), now=0, config=CONFIG)
    room = direct_room_id("bob", "ann")
    assert room == "dm:ann:bob"
    assert events == (
        RoomCreated(room=room, kind="direct", name=room, members=("Ann", "bob")),
        MessageSent(room=room, author="bob", text="hi"),
    )
    state.rooms[room] = ("direct", {"ann", "bob"})
    again = decide(state, SendMessage(author="Ann", text="yo", to="bob"), now=0, config=CONFIG)
    assert again == (MessageSent(room=room, author="Ann", text="yo"),)


def test_send_refusals() -> None:
    state = state_with("ann", "bob")
    state.rooms["g1"] = ("group", {"bob"})
    state.rooms["dm:bob:carl"] = ("direct", {"bob", "carl"})
    with pytest.raises(NotMemberError):
        decide(state, SendMessage(author="ann", text="x", room="g1"), now=0, config=CONFIG)
    with pytest.raises(NotFoundError):  # someone else's direct room does not exist for ann
        decide(state, SendMessage(author="ann", text="x", room="dm:bob:carl"), now=0, config=CONFIG)
    with pytest.raises(NotFoundError):
        decide(state, SendMessage(author="ann", text="x", room="nope"), now=0, config=CONFIG)
    with pytest.raises(NotFoundError):
        decide(state, SendMessage(author="ann", text="x", to="zed"), now=0, config=CONFIG)
    with pytest.raises(ValidationError):
        decide(state, SendMessage(author="ann", text="x", to="ANN"), now=0, config=CONFIG)


def test_cursor_moves_only_forward() -> None:
    state = state_with("ann")
    state.cursors["ann"] = 10
    assert decide(state, MoveCursor(user="ann", cursor=10), now=0, config=CONFIG) == ()
    assert decide(state, MoveCursor(user="ann", cursor=11), now=0, config=CONFIG) == (
        CursorMoved(user="ann", cursor=11),
    )


@pytest.mark.parametrize("name", ["a", "Анна", "x_y-z.1", "李", "a" * 32])
def test_valid_names(name: str) -> None:
    assert check_user_name(name) == name


@pytest.mark.parametrize("name", ["", "a" * 33, "a b", "a/b", "a:b", "a\nb", None, 3])
def test_invalid_names(name: object) -> None:
    with pytest.raises(ValidationError):
        check_user_name(name)


def test_text_limits() -> None:
    assert check_text("Привет", max_chars=6) == "Привет"
    for bad in ["", " \n", "toolong", "nul\x00"]:
        with pytest.raises(ValidationError):
            check_text(bad, max_chars=6)


def test_password_hash_verifies_and_hides_the_password() -> None:
    cost = ScryptCost(n=4)
    encoded = hash_password("s3cret", salt=b"0" * 16, cost=cost)
    assert "s3cret" not in encoded
    assert verify_password("s3cret", encoded)
    assert not verify_password("S3cret", encoded)
    assert not verify_password("s3cret", "garbage")
