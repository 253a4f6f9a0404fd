"""What the mapping writes matches the documented schemas, and nothing else does.

Messages, and the comments, scheduled messages and join requests that travel
with them in events.
"""

from __future__ import annotations

from hypothesis import given

from app import CommentView, JoinRequestView, MessageView, ScheduledView
from tests.transport.api.shapes import VALIDATORS, comments, join_requests, messages, scheduled
from transport.api.messages import comment_json, message_json
from transport.api.rooms import request_json
from transport.api.schedule import scheduled_json


@given(message=messages, comment=comments, pending=scheduled, request=join_requests)
def test_every_shape_the_mapping_writes_matches_its_schema(
    message: MessageView, comment: CommentView, pending: ScheduledView, request: JoinRequestView
) -> None:
    assert VALIDATORS["Message"].is_valid(message_json(message))
    assert VALIDATORS["Comment"].is_valid(comment_json(comment))
    assert VALIDATORS["Scheduled"].is_valid(scheduled_json(pending))
    assert VALIDATORS["JoinRequest"].is_valid(request_json(request))


def test_the_schemas_refuse_what_the_mapping_never_writes() -> None:
    message = {"id": 3, "room": "general", "author": "a", "text": "t", "ts": 1.0, "comments": 0}
    assert not VALIDATORS["Message"].is_valid({**message, "file": {"name": "a.txt"}})
    assert not VALIDATORS["Message"].is_valid({**message, "scheduled": 0})
    entry = {"id": 5, "author": "a", "text": "t", "send_at": 2.0, "status": "pending"}
    assert not VALIDATORS["Scheduled"].is_valid(entry)  # neither room nor to
    assert not VALIDATORS["Scheduled"].is_valid({**entry, "room": "general", "to": "b"})
    assert not VALIDATORS["Scheduled"].is_valid({**entry, "room": "general", "status": "done"})
    assert not VALIDATORS["JoinRequest"].is_valid({"room": "g1", "user": "a", "status": "maybe"})
    assert not VALIDATORS["FileInfo"].is_valid(
        {"name": "a", "size": 1, "content_type": "x/y", "sha256": "A" * 64}
    )
