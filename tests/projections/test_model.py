"""The read model, given events: what it folds, who sees each event, what queries answer."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain import (
    EVENT_CODECS,
    GENERAL,
    CursorMoved,
    Event,
    JoinDecided,
    JoinRequested,
    LinkCreated,
    MemberJoined,
    MemberLeft,
    MessageCommented,
    MessageScheduled,
    MessageSent,
    RoomCreated,
    ScheduledCancelled,
    SessionOpened,
    UserBanned,
    UserRegistered,
    UserReported,
)
from projections import EVENTS, EVERYONE, ReadModel, fold

TTL_S = 100.0


class Given:
    """Events folded in at increasing offsets, each at a time the test picks."""

    def __init__(self) -> None:
        self.model = ReadModel(ttl_s=TTL_S, rate_window_s=60.0)
        self.offset = 0
        self.at(0.0, RoomCreated(room=GENERAL, kind="general", name=GENERAL, members=()))

    def at(self, ts: float, *events: Event) -> int:
        for event in events:
            self.offset += 1
            self.model.apply(self.offset, ts, event)
        return self.offset

    def user(self, name: str, ts: float = 0.0) -> int:
        return self.at(
            ts, UserRegistered(user=name, password_hash="h"), MemberJoined(room=GENERAL, user=name)
        )


def test_every_stored_event_type_has_exactly_one_row() -> None:
    assert set(EVENTS) == {codec.cls for codec in EVENT_CODECS}


def test_general_messages_are_for_everyone_and_group_messages_for_members_since_joining() -> None:
    given = Given()
    given.user("ann")
    given.user("bob")
    given.user("cid")
    given.at(1.0, RoomCreated(room="g1", kind="group", name="G", owner="ann", members=("ann",)))
    before = given.at(2.0, MessageSent(room="g1", author="ann", text="before bob"))
    given.at(3.0, MemberJoined(room="g1", user="bob", by="ann"))
    after = given.at(4.0, MessageSent(room="g1", author="ann", text="after"))
    hello = given.at(4.0, MessageSent(room=GENERAL, author="cid", text="hi"))
    model = given.model
    assert model.audience(hello, MessageSent(room=GENERAL, author="cid", text="hi")) is EVERYONE
    sent_after = MessageSent(room="g1", author="ann", text="after")
    assert model.audience(after, sent_after) == frozenset({"ann", "bob"})
    assert model.can_see("bob", after, sent_after, now=5.0)
    assert not model.can_see("bob", before, sent_after, now=5.0)  # he joined later
    assert not model.can_see("cid", after, sent_after, now=5.0)
    assert not model.can_see("ann", after, sent_after, now=4.0 + TTL_S + 1)  # expired


def test_a_comment_lives_as_long_as_its_message() -> None:
    given = Given()
    given.user("ann")
    message = given.at(1.0, MessageSent(room=GENERAL, author="ann", text="m"))
    comment = MessageCommented(message=message, room=GENERAL, author="ann", text="c")
    offset = given.at(50.0, comment)
    assert given.model.can_see("ann", offset, comment, now=60.0)
    assert not given.model.can_see("ann", offset, comment, now=1.0 + TTL_S + 1)
    assert given.model.timeline.messages[message].comments == 1


def test_join_requests_are_for_the_owner_and_the_requester_only() -> None:
    given = Given()
    for name in ("ann", "bob", "cid"):
        given.user(name)
    given.at(1.0, RoomCreated(room="g1", kind="group", name="G", owner="ann", members=("ann",)))
    given.at(1.0, LinkCreated(room="g1", link_hash="x", by="ann"))
    request = JoinRequested(room="g1", user="bob", link_hash="x")
    offset = given.at(2.0, request)
    assert given.model.audience(offset, request) == frozenset({"ann", "bob"})
    decided = JoinDecided(room="g1", user="bob", approved=False, by="ann")
    offset = given.at(3.0, decided)
    assert {k for k in ("ann", "bob", "cid") if given.model.can_see(k, offset, decided, 3.0)} == {
        "ann",
        "bob",
    }


def test_who_left_still_sees_that_they_left() -> None:
    given = Given()
    given.user("ann")
    given.user("bob")
    given.at(
        1.0, RoomCreated(room="g1", kind="group", name="G", owner="ann", members=("ann", "bob"))
    )
    left = MemberLeft(room="g1", user="bob")
    offset = given.at(2.0, left)
    assert given.model.audience(offset, left) == frozenset({"ann", "bob"})
    assert given.model.can_see("bob", offset, left, 2.0)
    assert given.model.rooms.joined_at("g1", "bob") is None


@pytest.mark.parametrize(
    "event",
    [
        CursorMoved(user="Ann", cursor=3),
        UserBanned(user="Ann", until=10.0),
        MessageScheduled(author="Ann", text="t", send_at=9.0, room=GENERAL),
        ScheduledCancelled(scheduled=99, author="Ann"),
    ],
)
def test_own_events_go_to_that_user_alone(event: Event) -> None:
    given = Given()
    given.user("Ann")
    given.user("bob")
    offset = given.at(1.0, event)
    assert given.model.audience(offset, event) == frozenset({"ann"})
    assert given.model.can_see("ann", offset, event, 1.0)
    assert not given.model.can_see("bob", offset, event, 1.0)


@pytest.mark.parametrize(
    "event",
    [
        SessionOpened(user="ann", token_hash="t"),
        UserReported(user="ann", reporter="bob"),
        LinkCreated(room="g1", link_hash="x", by="ann"),
        RoomCreated(room=GENERAL, kind="general", name=GENERAL, members=()),
    ],
)
def test_internal_events_reach_nobody(event: Event) -> None:
    given = Given()
    given.user("ann")
    offset = given.at(1.0, event)
    assert given.model.audience(offset, event) == frozenset()
    assert not given.model.can_see("ann", offset, event, 1.0)


def test_a_new_user_starts_unread_at_registration_then_at_the_cursor() -> None:
    given = Given()
    given.user("ann")
    given.at(1.0, MessageSent(room=GENERAL, author="ann", text="old"))
    registered = given.user("bob", ts=2.0)
    new = given.at(3.0, MessageSent(room=GENERAL, author="ann", text="new"))
    model = given.model
    assert model.cursor_of("bob") == registered - 1  # user.registered is one before
    unread = model.unread("bob", cursor=model.cursor_of("bob"), upto=new, now=3.0, limit=10)
    assert [m.text for m in unread] == ["new"]
    given.at(4.0, CursorMoved(user="bob", cursor=new))
    assert model.unread("bob", cursor=model.cursor_of("bob"), upto=new, now=4.0, limit=10) == []


def test_history_pages_newest_first_and_forgets_expired_messages() -> None:
    given = Given()
    given.user("ann")
    ids = [
        given.at(float(i), MessageSent(room=GENERAL, author="ann", text=f"m{i}")) for i in range(5)
    ]
    general = given.model.rooms.by_id[GENERAL]
    page, more = given.model.history(
        general, "ann", before=ids[-1] + 1, limit=2, upto=ids[-1], now=5.0
    )
    assert [m.text for m in page] == ["m4", "m3"]
    assert more
    given.at(3.0 + TTL_S + 100, UserReported(user="ann", reporter="x"))  # time moves on
    assert sorted(given.model.timeline.messages) == []  # every message expired and was forgotten


messages = st.lists(
    st.tuples(st.sampled_from([GENERAL, "g1"]), st.floats(0, 500), st.text(min_size=1, max_size=5)),
    max_size=30,
)


@given(messages=messages, cut=st.integers(0, 40))
def test_folding_in_two_halves_equals_folding_at_once(
    messages: list[tuple[str, float, str]], cut: int
) -> None:
    events: list[tuple[int, float, Event]] = [
        (1, 0.0, RoomCreated(room=GENERAL, kind="general", name=GENERAL, members=())),
        (2, 0.0, UserRegistered(user="ann", password_hash="h")),
        (3, 0.0, RoomCreated(room="g1", kind="group", name="G", owner="ann", members=("ann",))),
    ]
    ts = 0.0
    for room, step, text in messages:
        ts += step
        events.append((len(events) + 1, ts, MessageSent(room=room, author="ann", text=text)))
    at_once = fold(ReadModel(ttl_s=TTL_S), events)
    halves = fold(fold(ReadModel(ttl_s=TTL_S), events[:cut]), events[cut:])
    assert halves == at_once


def test_a_scheduled_message_forgotten_after_it_ended_is_seen_by_nobody() -> None:
    given = Given()
    given.user("ann")
    scheduled = MessageScheduled(author="ann", text="later", send_at=50.0, room=GENERAL)
    offset = given.at(1.0, scheduled)
    given.at(2.0, ScheduledCancelled(scheduled=offset, author="ann"))
    assert given.model.can_see("ann", offset, scheduled, 2.0)  # still held: 409 on a late cancel
    later = 2.0 + TTL_S + 61  # forgetting goes by the minute of event time
    given.at(later, UserReported(user="ann", reporter="x"))  # time moves on
    assert offset not in given.model.schedule.by_id
    assert not given.model.can_see("ann", offset, scheduled, later)
