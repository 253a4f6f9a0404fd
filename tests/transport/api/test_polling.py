"""`/events`: every event type a client may see is documented, written as documented, delivered."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from app import CommentView, EventView, JoinRequestView, ScheduledView
from tests.transport.api.contract import LATER_EVENT_TYPES, Contract
from tests.transport.api.shapes import (
    VALIDATORS,
    comments,
    join_requests,
    names,
    offsets,
    scheduled,
    times,
)
from tests.transport.api.support import DOCUMENT, validator
from transport.api import polling
from transport.api.polling import EVENT_SCHEMAS
from transport.api.routes import openapi_document


def test_the_event_schema_is_one_of_every_visible_event_type() -> None:
    schemas = DOCUMENT["components"]["schemas"]
    event = validator({"$ref": "#/components/schemas/Event"})
    message = {"id": 3, "room": "general", "author": "a", "text": "t", "ts": 1.0, "comments": 0}
    samples: dict[str, dict[str, Any]] = {
        "message.sent": {"message": message},
        "room.created": {
            "room": {"id": "g4", "name": "x", "kind": "group", "owner": "a", "members": ["a"]}
        },
        "room.member_joined": {"room": "general", "user": "bob"},
        "room.member_left": {"room": "g4", "user": "bob"},
        "cursor.moved": {"user": "bob", "cursor": 7, "session": 5},
    }
    assert set(samples) <= set(EVENT_SCHEMAS)
    for event_type, fields in samples.items():
        assert schemas[EVENT_SCHEMAS[event_type]]["properties"]["type"] == {"const": event_type}
        good = {"offset": 9, "ts": 2.5, "type": event_type, **fields}
        assert event.is_valid(good), event_type
        assert not event.is_valid({**good, "type": "user.registered"})
        for missing in ("offset", "ts", *fields):
            assert not event.is_valid({k: v for k, v in good.items() if k != missing})
    assert not event.is_valid({"offset": 1, "ts": 1.0, "type": "session.opened"})


def test_every_visible_event_type_is_documented() -> None:
    assert set(EVENT_SCHEMAS) >= LATER_EVENT_TYPES
    schemas = openapi_document()["components"]["schemas"]
    mapping = schemas["Event"]["discriminator"]["mapping"]
    assert set(mapping) == set(EVENT_SCHEMAS)
    for event_type, name in EVENT_SCHEMAS.items():
        assert schemas[name]["properties"]["type"] == {"const": event_type}


@given(
    offset=offsets,
    ts=times,
    comment=comments,
    pending=scheduled,
    request=join_requests,
    user=names,
    reason=st.sampled_from(["not_member", "banned", "rate_limited", "not_found"]),
)
def test_every_later_event_the_mapping_writes_is_one_documented_event(
    offset: int,
    ts: float,
    comment: CommentView,
    pending: ScheduledView,
    request: JoinRequestView,
    user: str,
    reason: str,
) -> None:
    fields: dict[str, dict[str, object]] = {
        "message.commented": {"comment": comment},
        "room.join_requested": {"request": request},
        "room.join_decided": {"request": request},
        "message.scheduled": {"scheduled": pending},
        "message.cancelled": {"scheduled": pending.id},
        "message.schedule_failed": {"scheduled": pending.id, "reason": reason},
        "user.banned": {"user": user, "until": ts},
        "cursor.moved": {"user": user, "cursor": offset, "session": None},
    }
    for event_type, event_fields in fields.items():
        written = polling.event_json(
            EventView(offset=offset, ts=ts, type=event_type, fields=event_fields)
        )
        errors = list(VALIDATORS["Event"].iter_errors(written))
        assert not errors, (written, errors)
        for missing in event_fields:
            broken = {k: v for k, v in written.items() if k != missing}
            assert not VALIDATORS["Event"].is_valid(broken), (event_type, missing)


def test_every_documented_event_type_is_delivered(contract: Contract) -> None:
    seen = {event["type"] for events in contract.events.values() for event in events}
    assert seen == set(EVENT_SCHEMAS)


def test_the_events_carry_the_documented_fields(contract: Contract) -> None:
    alice = {e["type"]: e for e in contract.events["alice"]}
    assert alice["message.cancelled"]["scheduled"] > 0
    assert alice["message.scheduled"]["scheduled"]["author"] == "alice"
    assert alice["room.join_requested"]["request"]["status"] == "pending"
    sent_by_schedule = [
        e
        for e in contract.events["bob"]
        if e["type"] == "message.sent" and "scheduled" in e["message"]
    ]
    assert [e["message"]["text"] for e in sent_by_schedule] == ["soon"]
    failed = [e for e in contract.events["carol"] if e["type"] == "message.schedule_failed"]
    assert [e["reason"] for e in failed] == ["not_member"]
    decided = {
        e["request"]["status"]
        for e in contract.events["mallory"]
        if e["type"] == "room.join_decided"
    }
    assert decided == {"rejected"}
    banned = [e for e in contract.events["mallory"] if e["type"] == "user.banned"]
    assert [e["user"] for e in banned] == ["mallory"]
    assert any("session" in e for e in contract.events["alice"] if e["type"] == "cursor.moved")
