"""The rules, given a small state: when a command, then these events or this error."""

from __future__ import annotations

import pytest
from attrs import define, field

from domain import (
    GENERAL,
    ConflictError,
    Counts,
    CreateGeneral,
    CursorMoved,
    MemberJoined,
    MessageSent,
    MoveCursor,
    NotFoundError,
    NotMemberError,
    OpenSession,
    RegisterUser,
    RoomCreated,
    RulesConfig,
    ScheduledState,
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
    owners: dict[str, str] = field(factory=dict)
    cursors: dict[str, int] = field(factory=dict)
    bans: dict[str, float] = field(factory=dict)
    windows: dict[str, tuple[float, int]] = field(factory=dict)
    reports: dict[str, frozenset[str]] = field(factory=dict)
    schedule: dict[int, ScheduledState] = field(factory=dict)
    messages: dict[int, str] = field(factory=dict)
    links: dict[str, str] = field(factory=dict)
    pending: set[tuple[str, str]] = field(factory=set)
    sessions: dict[str, int] = field(factory=dict)

    def user_name(self, user: str) -> str | None:
        return self.users.get(name_key(user))

    def room_kind(self, room: str) -> str | None:
        return self.rooms[room][0] if room in self.rooms else None

    def room_owner(self, room: str) -> str | None:
        return self.owners.get(room)

    def joined_at(self, room: str, user: str) -> int | None:
        return 0 if room in self.rooms and name_key(user) in self.rooms[room][1] else None

    def counts(self, user: str, room: str | None = None) -> Counts:
        return Counts(open_sessions=self.sessions.get(name_key(user), 0))

    def member_count(self, room: str) -> int:
        return len(self.rooms[room][1]) if room in self.rooms else 0

    def session_is_open(self, session: int) -> bool:
        return False

    def cursor_of(self, user: str) -> int:
        return self.cursors.get(name_key(user), 0)

    def banned_until(self, user: str) -> float | None:
        return self.bans.get(name_key(user))

    def general_window(self, user: str) -> tuple[float, int] | None:
        return self.windows.get(name_key(user))

    def reporters_of(self, user: str) -> frozenset[str]:
        return self.reports.get(name_key(user), frozenset())

    def scheduled(self, scheduled: int) -> ScheduledState | None:
        return self.schedule.get(scheduled)

    def message_room(self, message: int, now: float) -> str | None:
        return self.messages.get(message)

    def link_room(self, link_hash: str) -> str | None:
        return self.links.get(link_hash)

    def join_pending(self, room: str, user: str) -> bool:
        return (room, name_key(user)) in self.pending


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


def test_caps_on_what_one_user_piles_up() -> None:
    state = state_with("ann")
    small = RulesConfig(max_sessions_per_user=2)
    state.sessions["ann"] = 1
    assert decide(state, OpenSession(user="ann", token_hash="t"), now=0, config=small)
    state.sessions["ann"] = 2
    with pytest.raises(ConflictError, match="limit of 2 open sessions"):
        decide(state, OpenSession(user="ann", token_hash="t"), now=0, config=small)
