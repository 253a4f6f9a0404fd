"""What a fold ends with depends on the events that matter, not on the ones compaction drops.

Given any history of users, sessions, cursor moves, messages, comments and
scheduled messages at any times: folding it with `fold_until` (messages that
expire before the end are never held) ends in the same state as folding it
plainly; so does folding it without the `cursor.moved` events the cursor
trail does not need, whether they are dropped from the whole history or only
from the part before some offset (a snapshot).
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from domain import (
    GENERAL,
    CursorMoved,
    Event,
    MemberJoined,
    MessageCommented,
    MessageScheduled,
    MessageSent,
    RoomCreated,
    ScheduledCancelled,
    SessionClosed,
    SessionOpened,
    SessionTouched,
    UserRegistered,
)
from projections import ReadModel, fold

TTL_S = 100.0
USERS = ("ann", "Bob", "carl")
Entry = tuple[int, float, Event]

# Cursor moves, sessions and sends weigh more: they are what the shortcuts are about.
KINDS = ["send"] * 2 + ["comment"] + ["open"] * 2 + ["close", "touch"] + ["cursor"] * 3
KINDS += ["schedule", "cancel"]
actions = st.lists(
    st.tuples(
        st.sampled_from(KINDS),
        st.sampled_from(USERS),
        st.sampled_from([0.0, 0.5, 7.0, 59.9, 60.0, 101.0]),  # how far time moves first
        st.integers(0, 5),  # which earlier session or message
    ),
    max_size=60,
)


def history(steps: list[tuple[str, str, float, int]]) -> list[Entry]:
    """Turn drawn actions into a history the rules could have written."""
    entries: list[Entry] = []
    ts = 1_800_000_000.0

    def add(event: Event) -> int:
        entries.append((len(entries) + 1, ts, event))
        return len(entries)

    add(RoomCreated(room=GENERAL, kind="general", name=GENERAL, members=()))
    for user in USERS:
        add(UserRegistered(user=user, password_hash="h"))
        add(MemberJoined(room=GENERAL, user=user))
    sessions: dict[str, list[int]] = {user: [] for user in USERS}
    messages: list[int] = []
    scheduled: list[int] = []
    cursor = 0
    for action, user, step, pick in steps:
        ts += step
        mine = sessions[user]
        if action == "send":
            extra: dict[str, Any] = {}
            if pick == 1:
                extra = {"idempotency_key": f"k{len(entries)}"}
            elif pick == 2:
                extra = {"file_name": "f", "file_size": 1, "file_type": "t", "file_sha256": "ab"}
            elif pick == 3 and scheduled:  # the delivery of a scheduled message
                extra = {"scheduled": scheduled.pop(0)}
            messages.append(add(MessageSent(room=GENERAL, author=user, text="hi", **extra)))
        elif action == "comment" and messages:
            message = messages[pick % len(messages)]
            add(MessageCommented(message=message, room=GENERAL, author=user, text="re"))
        elif action == "open":
            mine.append(add(SessionOpened(user=user, token_hash=f"t{len(entries)}")))
        elif action == "close" and mine:
            add(SessionClosed(user=user, session=mine.pop(pick % len(mine))))
        elif action == "touch" and mine:
            add(SessionTouched(user=user, session=mine[pick % len(mine)]))
        elif action == "cursor":
            cursor += 1  # cursors only move forward (the rules see to it)
            session = mine[pick % len(mine)] if mine and pick else None
            add(CursorMoved(user=user, cursor=cursor, session=session))
        elif action == "schedule":
            event = MessageScheduled(author=user, text="later", send_at=ts + 30, room=GENERAL)
            scheduled.append(add(event))
        elif action == "cancel" and scheduled:
            add(ScheduledCancelled(author=user, scheduled=scheduled.pop(pick % len(scheduled))))
    return entries


def folded(entries: list[Entry]) -> ReadModel:
    return fold(ReadModel(ttl_s=TTL_S, rate_window_s=60.0), entries)


def without_unneeded_cursor_moves(entries: list[Entry], upto: int) -> list[Entry]:
    """Compaction as the app does it: drop the superseded `cursor.moved` up to `upto`."""
    needed = folded(entries[:upto]).cursor_trail.needed()
    return [
        (o, ts, e)
        for o, ts, e in entries
        if not (isinstance(e, CursorMoved) and o < upto and o not in needed)
    ]


@settings(max_examples=300)
@given(actions)
def test_a_fold_that_knows_its_end_skips_what_expires_and_ends_the_same(
    steps: list[tuple[str, str, float, int]],
) -> None:
    entries = history(steps)
    model = ReadModel(ttl_s=TTL_S, rate_window_s=60.0)
    model.fold_until(entries[-1][1])
    fold(model, entries)
    model.fold_until(None)
    assert model == folded(entries)


@settings(max_examples=300)
@given(actions, st.integers(1, 200))
def test_dropping_cursor_moves_the_trail_does_not_need_changes_nothing(
    steps: list[tuple[str, str, float, int]], cut: int
) -> None:
    entries = history(steps)
    upto = min(cut, len(entries))
    assert folded(without_unneeded_cursor_moves(entries, upto)) == folded(entries)


def test_what_is_held_depends_on_the_newest_event_time_alone() -> None:
    entries = history([("send", "ann", 0.0, 0)] * 3)
    quiet, busy = folded(entries), folded(entries)
    late = entries[-1][1] + TTL_S + 61
    for offset, ts in [(len(entries) + 1, late - 50), (len(entries) + 2, late)]:
        busy.apply(offset, ts, SessionTouched(user="ann", session=0))
    quiet.apply(len(entries) + 2, late, SessionTouched(user="ann", session=0))
    quiet.head = busy.head
    assert quiet.timeline == busy.timeline
    assert busy.timeline.messages == {}
