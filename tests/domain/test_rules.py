"""The rules, given a small state: when a command, then these events or this error."""

from __future__ import annotations

import attrs
import pytest

from app import Settings
from domain import (
    GENERAL,
    Command,
    CommentMessage,
    ConflictError,
    CreateGeneral,
    CursorMoved,
    Event,
    MemberJoined,
    MessageSent,
    MoveCursor,
    NotFoundError,
    NotMemberError,
    OpenSession,
    RegisterUser,
    RoomCreated,
    RulesConfig,
    ScheduleMessage,
    ScryptCost,
    SendMessage,
    SessionClosed,
    SessionOpened,
    UserRegistered,
    ValidationError,
    check_text,
    check_user_name,
    decide,
    direct_room_id,
    hash_password,
    verify_password,
)
from projections import ReadModel

CONFIG = Settings().rules


class Given:
    """A state built the only way a real one is: by folding events into the read model."""

    def __init__(self, *names: str) -> None:
        self.model = ReadModel(ttl_s=3600.0, rate_window_s=CONFIG.rate_window_s)
        self.offset = 0
        self.events(RoomCreated(room=GENERAL, kind="general", name=GENERAL, members=()))
        for name in names:
            self.events(
                UserRegistered(user=name, password_hash="h"), MemberJoined(room=GENERAL, user=name)
            )

    def events(self, *events: Event) -> int:
        """Fold these in; returns the offset of the last."""
        for event in events:
            self.offset += 1
            self.model.apply(self.offset, 0.0, event)
        return self.offset

    def room(self, room: str, kind: str, *members: str, owner: str | None = None) -> None:
        self.events(RoomCreated(room=room, kind=kind, name=room, owner=owner, members=members))

    def decide(self, command: Command, *, config: RulesConfig = CONFIG) -> tuple[Event, ...]:
        return decide(self.model, command, now=0, config=config)


def state_with(*names: str) -> Given:
    return Given(*names)


def test_general_is_created_once() -> None:
    empty = ReadModel(ttl_s=3600.0)
    assert decide(empty, CreateGeneral(), now=0, config=CONFIG) == (
        RoomCreated(room=GENERAL, kind="general", name=GENERAL, members=()),
    )
    assert state_with().decide(CreateGeneral()) == ()


def test_registering_joins_general_and_names_are_unique_ignoring_case() -> None:
    events = state_with().decide(RegisterUser(name="Ann", password_hash="h"))
    assert events == (
        UserRegistered(user="Ann", password_hash="h"),
        MemberJoined(room=GENERAL, user="Ann"),
    )
    with pytest.raises(ConflictError):
        state_with("ann").decide(RegisterUser(name="ANN", password_hash="h"))


def test_first_direct_message_creates_the_pair_room() -> None:
    state = state_with("bob", "Ann")
    events = state.decide(SendMessage(author="bob", text="hi", to="ANN"))
    room = direct_room_id("bob", "ann")
    assert room == "dm:ann:bob"
    assert events == (
        RoomCreated(room=room, kind="direct", name=room, members=("Ann", "bob")),
        MessageSent(room=room, author="bob", text="hi"),
    )
    state.events(*events)
    again = state.decide(SendMessage(author="Ann", text="yo", to="bob"))
    assert again == (MessageSent(room=room, author="Ann", text="yo"),)


def test_send_refusals() -> None:
    state = state_with("ann", "bob", "carl")
    state.room("g1", "group", "bob", owner="bob")
    state.room("dm:bob:carl", "direct", "bob", "carl")
    with pytest.raises(NotMemberError):
        state.decide(SendMessage(author="ann", text="x", room="g1"))
    with pytest.raises(NotFoundError):  # someone else's direct room does not exist for ann
        state.decide(SendMessage(author="ann", text="x", room="dm:bob:carl"))
    with pytest.raises(NotFoundError):
        state.decide(SendMessage(author="ann", text="x", room="nope"))
    with pytest.raises(NotFoundError):
        state.decide(SendMessage(author="ann", text="x", to="zed"))
    with pytest.raises(ValidationError):
        state.decide(SendMessage(author="ann", text="x", to="ANN"))


def test_cursor_moves_only_forward() -> None:
    state = state_with("ann")
    state.events(CursorMoved(user="ann", cursor=10))
    assert state.decide(MoveCursor(user="ann", cursor=10)) == ()
    assert state.decide(MoveCursor(user="ann", cursor=11)) == (CursorMoved(user="ann", cursor=11),)


@pytest.mark.parametrize("name", ["a", "Анна", "x_y-z.1", "李", "a" * 32])
def test_valid_names(name: str) -> None:
    assert check_user_name(name) == name


@pytest.mark.parametrize("name", ["", "a" * 33, "a b", "a/b", "a:b", "a\nb", None, 3])
def test_invalid_names(name: object) -> None:
    with pytest.raises(ValidationError):
        check_user_name(name)


def test_text_limits() -> None:
    assert check_text("Привет") == "Привет"
    for bad in ["", " \n", "nul\x00", 5]:
        with pytest.raises(ValidationError):
            check_text(bad)
    # How long a text may be is a rule: every command that carries one is refused past it.
    six = attrs.evolve(CONFIG, max_text_length=6)
    state = state_with("ann")
    assert state.decide(SendMessage(author="ann", text="Привет"), config=six)
    sent = state.events(*state.decide(SendMessage(author="ann", text="x")))
    for command in (
        SendMessage(author="ann", text="toolong"),
        ScheduleMessage(author="ann", text="toolong", send_at=10.0),
        CommentMessage(author="ann", message=sent, text="toolong"),
    ):
        with pytest.raises(ValidationError, match="longer than 6"):
            state.decide(command, config=six)


def test_password_hash_verifies_and_hides_the_password() -> None:
    cost = ScryptCost(n=4)
    encoded = hash_password("s3cret", salt=b"0" * 16, cost=cost)
    assert "s3cret" not in encoded
    assert verify_password("s3cret", encoded)
    assert not verify_password("S3cret", encoded)
    assert not verify_password("s3cret", "garbage")


def test_at_the_session_cap_the_least_recently_active_session_makes_room() -> None:
    state = state_with("ann")
    small = attrs.evolve(CONFIG, max_sessions_per_user=2)
    first = state.events(SessionOpened(user="ann", token_hash="t1"))
    assert state.decide(OpenSession(user="ann", token_hash="t"), config=small) == (
        SessionOpened(user="ann", token_hash="t"),
    )
    second = state.events(SessionOpened(user="ann", token_hash="t2"))
    state.events(CursorMoved(user="ann", cursor=1, session=first))  # the first is in use
    state.model.apply(state.offset + 1, 5.0, CursorMoved(user="ann", cursor=2, session=first))
    state.offset += 1
    assert state.decide(OpenSession(user="ann", token_hash="t"), config=small) == (
        SessionClosed(user="ann", session=second, reason="evicted"),
        SessionOpened(user="ann", token_hash="t"),
    )
