"""Hypothesis strategies for the service's views, and validators of the documented schemas."""

from __future__ import annotations

import jsonschema_rs
from hypothesis import strategies as st

from app import CommentView, FileView, JoinRequestView, MessageView, ScheduledView, Settings
from transport.api.rooms import JOIN_STATUSES
from transport.api.routes import openapi_document
from transport.api.schedule import SCHEDULED_STATUSES

SCHEMAS = openapi_document()["components"]["schemas"]
names = st.from_regex(r"[A-Za-z\u0410-\u044f\u0451\u03a9\u00e90-9_.-]{1,32}", fullmatch=True)
room_ids = st.one_of(
    st.just("general"),
    st.integers(min_value=1, max_value=2**53).map(lambda n: f"g{n}"),
    st.tuples(names, names).map(lambda pair: f"dm:{pair[0].casefold()}:{pair[1].casefold()}"),
)
offsets = st.integers(min_value=1, max_value=2**53)
times = st.floats(min_value=0, max_value=4e9, allow_nan=False)
files = st.builds(
    FileView,
    name=st.text(min_size=1),
    size=st.integers(min_value=0, max_value=Settings().max_file_bytes),
    content_type=st.sampled_from(["application/octet-stream", "text/plain; charset=utf-8"]),
    sha256=st.from_regex(r"[0-9a-f]{64}", fullmatch=True),
)
messages = st.builds(
    MessageView,
    id=offsets,
    room=room_ids,
    author=names,
    text=st.text(),
    ts=times,
    comments=st.integers(min_value=0, max_value=10**6),
    scheduled=st.none() | offsets,
    file=st.none() | files,
)
comments = st.builds(
    CommentView, id=offsets, message=offsets, room=room_ids, author=names, text=st.text(), ts=times
)
scheduled = st.builds(
    ScheduledView,
    id=offsets,
    author=names,
    text=st.text(),
    send_at=times,
    status=st.sampled_from(SCHEDULED_STATUSES),
    room=st.none() | room_ids,
    to=st.none() | names,
)
join_requests = st.builds(
    JoinRequestView,
    room=room_ids,
    user=names,
    status=st.sampled_from(JOIN_STATUSES),
    requested_at=st.none() | times,
)


def schema_validator(name: str) -> jsonschema_rs.Validator:
    root = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": {"schemas": SCHEMAS},
        "$ref": f"#/components/schemas/{name}",
    }
    return jsonschema_rs.Draft202012Validator(root)


VALIDATORS = {
    name: schema_validator(name)
    for name in ("Message", "Comment", "Scheduled", "JoinRequest", "Event", "FileInfo")
}
