"""What `/connect` and `/status` answer matches the documented `Connected` and `Status`."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app import ConnectResult, MessageView, RoomView, SessionView, Settings, StatusResult
from tests.transport.api.shapes import messages, names, offsets, room_ids, schema_validator, times
from transport.api.auth import bearer_token
from transport.api.identity import connect_json, status_json
from transport.api.routes import openapi_document
from transport.http import Headers

CONNECTED = schema_validator("Connected")
STATUS = schema_validator("Status")
rooms = st.builds(
    RoomView,
    id=room_ids,
    name=st.text(),
    kind=st.sampled_from(["general", "group", "direct"]),
    owner=st.none() | names,
    members=st.lists(names, max_size=3).map(tuple),
    unread=st.integers(min_value=0, max_value=10**6),
)
tokens = st.from_regex(r"[0-9a-f]{64}", fullmatch=True)
logs = st.from_regex(r"[0-9a-f]{32}", fullmatch=True)


@given(
    created=st.booleans(),
    token=tokens,
    user=names,
    log=logs,
    offset=offsets,
    general=st.lists(messages, max_size=Settings().history_size).map(tuple),
    unread=st.lists(messages, max_size=3).map(tuple),
    room_list=st.lists(rooms, max_size=3).map(tuple),
)
def test_what_connect_answers_is_connected(
    created: bool,
    token: str,
    user: str,
    log: str,
    offset: int,
    general: tuple[MessageView, ...],
    unread: tuple[MessageView, ...],
    room_list: tuple[RoomView, ...],
) -> None:
    result = ConnectResult(
        created=created,
        token=token,
        user=user,
        log=log,
        offset=offset,
        cursor=0,
        general=general,
        unread=unread,
        unread_truncated=False,
        rooms=room_list,
    )
    errors = list(CONNECTED.iter_errors(connect_json(result)))
    assert not errors


@given(
    user=names,
    log=logs,
    room_list=st.lists(rooms, max_size=3).map(tuple),
    online=st.lists(names, max_size=3).map(tuple),
    sessions=st.lists(
        st.builds(SessionView, id=offsets, opened_at=times, current=st.booleans()), max_size=3
    ).map(tuple),
)
def test_what_status_answers_is_status(
    user: str,
    log: str,
    room_list: tuple[RoomView, ...],
    online: tuple[str, ...],
    sessions: tuple[SessionView, ...],
) -> None:
    result = StatusResult(
        user=user, log=log, offset=5, cursor=3, rooms=room_list, online=online, sessions=sessions
    )
    assert not list(STATUS.iter_errors(status_json(result)))


def test_connect_takes_no_token_and_everything_else_needs_one() -> None:
    paths = openapi_document()["paths"]
    assert paths["/connect"]["post"]["security"] == []
    assert "security" not in paths["/status"]["get"]


def test_the_bearer_token_is_read_from_the_authorization_header() -> None:
    def read(value: str | None) -> str:
        return bearer_token(Headers([] if value is None else [("Authorization", value)]))

    assert read("Bearer abc") == "abc"
    assert read("bearer  abc ") == "abc"
    assert read("Basic abc") == ""
    assert read("Bearer") == ""
    assert read(None) == ""
