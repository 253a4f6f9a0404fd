"""The chat over real sockets: two users, direct messages, unread, sessions, errors."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import StartupError
from tests.blackbox.support import LiveServer, fast_settings, live_server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(fast_settings(tmp_path / "data")).start()
    yield live
    live.stop()


def texts(reply_events: list[dict[str, object]]) -> list[object]:
    return [e["message"]["text"] for e in reply_events if e["type"] == "message.sent"]  # type: ignore[index]


def test_two_users_chat_in_general_and_directly(server: LiveServer) -> None:
    alice, bob = server.client(), server.client()
    first = alice.connect("alice")
    assert first.status == 201
    assert first.body["general"] == {"id": "general", "messages": []}
    assert bob.connect("bob").status == 201
    sent = alice.send("hello all")
    assert sent.status == 201
    assert {"id", "room", "author", "text", "ts"} <= sent.body["message"].keys()
    assert alice.send("hi bob", to="bob").body["message"]["room"] == "dm:alice:bob"
    page = bob.events(after=0)
    assert page.status == 200
    assert texts(page.body["events"]) == ["hello all", "hi bob"]
    reply = bob.send("hi alice", room="dm:alice:bob")
    assert reply.status == 201
    history = alice.call("GET", "/rooms/dm:alice:bob/messages")
    assert [m["text"] for m in history.body["messages"]] == ["hi alice", "hi bob"]
    status = bob.call("GET", "/status").body
    assert status["user"] == {"name": "bob"}
    assert {r["id"] for r in status["rooms"]} == {"general", "dm:alice:bob"}
    assert status["online"] == ["alice", "bob"]
    for client in (alice, bob):
        client.close()


def test_returning_user_sees_what_is_unread_since_the_last_poll(server: LiveServer) -> None:
    alice, bob = server.client(), server.client()
    alice.connect("alice")
    bob.connect("bob")
    alice.send("seen")
    page = bob.events(after=0)
    bob.events(after=page.body["next"])  # acknowledges "seen"
    alice.send("missed in general")
    alice.send("missed directly", to="bob")
    assert bob.call("POST", "/disconnect").status == 204
    again = server.client()
    reply = again.connect("bob")
    assert reply.status == 200
    assert [m["text"] for m in reply.body["unread"]] == ["missed in general", "missed directly"]
    assert reply.body["cursor"] == page.body["next"]
    assert {r["id"]: r["unread"] for r in reply.body["rooms"]} == {
        "general": 1,
        "dm:alice:bob": 1,
    }


def test_two_sessions_of_one_user_stay_in_step(server: LiveServer) -> None:
    alice, phone, laptop = server.client(), server.client(), server.client()
    alice.connect("alice")
    phone.connect("bob")
    laptop.connect("bob")
    alice.send("to both")
    on_phone = phone.events(after=0).body
    on_laptop = laptop.events(after=0).body
    assert texts(on_phone["events"]) == texts(on_laptop["events"]) == ["to both"]
    phone.events(after=on_phone["next"])  # the phone acknowledges
    moved = laptop.events(after=on_laptop["next"], timeout_s=5).body  # the flush wakes it
    assert [(e["type"], e["cursor"]) for e in moved["events"]] == [
        ("cursor.moved", on_phone["next"])
    ]
    counts = {r["id"]: r["unread"] for r in laptop.call("GET", "/status").body["rooms"]}
    assert counts["general"] == 0
    # The laptop acknowledges the cursor event: no new cursor event follows.
    quiet = laptop.events(after=moved["next"], timeout_s=0.3).body
    assert quiet["events"] == []


def test_a_long_poll_is_answered_when_a_message_arrives(server: LiveServer) -> None:
    alice, bob = server.client(), server.client()
    alice.connect("alice")
    head = bob.connect("bob").body["offset"]
    sender = threading.Timer(0.2, lambda: alice.send("wake up"))
    sender.start()
    started = time.monotonic()
    page = bob.events(after=head, timeout_s=10)
    sender.join(10)  # its answer may come after bob's: let it finish before teardown
    assert texts(page.body["events"]) == ["wake up"], (head, page.body)
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("GET", "/status", None, 401, "unauthorized"),
        ("POST", "/send", {"text": "x"}, 401, "unauthorized"),
        ("GET", "/events?after=0", None, 401, "unauthorized"),
        ("POST", "/connect", {"name": "", "password": "x"}, 400, "validation_failed"),
        ("POST", "/connect", {"name": "ok"}, 400, "validation_failed"),
        ("GET", "/health", None, 200, None),
        ("GET", "/nope", None, 404, "not_found"),
        ("DELETE", "/send", None, 405, "method_not_allowed"),
    ],
)
def test_anonymous_requests(
    server: LiveServer, method: str, path: str, body: object, status: int, code: str | None
) -> None:
    reply = server.client().call(method, path, body)
    assert reply.status == status
    if code is not None:
        assert reply.error_code() == code
        assert isinstance(reply.body["error"]["message"], str)


def test_errors_of_a_connected_user(server: LiveServer) -> None:
    alice = server.client()
    alice.connect("alice")
    assert server.client().connect("alice", "wrong").error_code() == "bad_credentials"
    cases = [
        (alice.send(""), 400, "validation_failed", "text"),
        (alice.send("x", room="nowhere"), 404, "not_found", None),
        (alice.send("x", to="ghost"), 404, "not_found", None),
        (alice.send("x", to="alice"), 400, "validation_failed", "to"),
        (alice.call("GET", "/rooms/nowhere/messages"), 404, "not_found", None),
        (alice.call("GET", "/rooms/general/messages?limit=0"), 400, "validation_failed", "limit"),
        (alice.call("GET", "/events"), 400, "validation_failed", "after"),
        (alice.call("GET", "/events?after=-1"), 400, "validation_failed", "after"),
        (alice.call("GET", "/events?after=0&timeout=61"), 400, "validation_failed", "timeout"),
        (alice.call("GET", "/events?after=999999"), 409, "offset_out_of_range", None),
        (alice.call("GET", "/events?after=0&log=other"), 409, "log_mismatch", None),
    ]
    for reply, status, code, field in cases:
        assert (reply.status, reply.error_code()) == (status, code), reply
        if field is not None:
            assert reply.body["error"]["field"] == field
    bad_json = alice.call("POST", "/send", headers={"Content-Type": "application/json"})
    assert bad_json.error_code() == "bad_json"
    assert alice.call("GET", "/events?after=999999").body["error"]["head"] >= 1
    wrong_type = alice.call(
        "POST", "/send", headers={"Content-Type": "text/plain", "Content-Length": "1"}
    )
    assert wrong_type.status == 415
    token = alice.token
    alice.call("POST", "/disconnect")
    assert alice.call("GET", "/status", token=token).error_code() == "unauthorized"


def test_idempotency_key_over_http(server: LiveServer) -> None:
    alice = server.client()
    alice.connect("alice")
    key = {"Idempotency-Key": "retry-1"}
    first = alice.call("POST", "/send", {"text": "once"}, headers=key)
    second = alice.call("POST", "/send", {"text": "once"}, headers=key)
    assert first.status == second.status == 201
    assert first.body == second.body
    history = alice.call("GET", "/rooms/general/messages").body["messages"]
    assert [m["text"] for m in history] == ["once"]
    bad = alice.call("POST", "/send", {"text": "x"}, headers={"Idempotency-Key": "x" * 65})
    assert bad.status == 400


def test_restart_keeps_messages_cursors_sessions_and_offsets(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with live_server(data) as first:
        alice, bob = first.client(), first.client()
        alice.connect("alice")
        bob.connect("bob")
        alice.send("before restart")
        page = bob.events(after=0).body
        bob.events(after=page["next"])  # acknowledged; flushed at shutdown at the latest
        alice.send("unread across restart")
        head = alice.call("GET", "/health").body["offset"]
        tokens = (alice.token, bob.token)
        alice.close()
        bob.close()
    with live_server(data) as second:
        alice, bob = second.client(tokens[0]), second.client(tokens[1])
        assert bob.call("GET", "/status").body["cursor"] == page["next"]
        resumed = bob.events(after=page["next"]).body
        assert texts(resumed["events"]) == ["unread across restart"]
        sent = alice.send("after restart").body["message"]
        assert sent["id"] > head
        fresh = second.client().connect("bob").body
        assert [m["text"] for m in fresh["unread"]] == ["unread across restart", "after restart"]


def test_a_second_server_on_the_same_data_directory_refuses(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with live_server(data):
        second = LiveServer(fast_settings(data))
        with pytest.raises(StartupError, match="in use"):
            second.start()
        second.stop()
