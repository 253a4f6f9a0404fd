"""`chat` subcommands as subprocesses against a real `chat-server`."""

from __future__ import annotations

import json
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.client.real_server import ChatServer, Watcher, connect, has_texts, run_chat
from tests.client.support import no_traceback


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ChatServer]:
    chat_server = ChatServer(tmp_path / "data", tmp_path / "server.log")
    chat_server.start()
    try:
        yield chat_server
    finally:
        chat_server.stop()


def test_two_users_exchange_general_and_direct_messages(tmp_path: Path, server: ChatServer) -> None:
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    first = connect(alice, server, "alice")
    assert "registered and connected" in first.out
    assert stat.S_IMODE((alice / "default.json").stat().st_mode) == 0o600
    connect(bob, server, "Bob")

    assert run_chat(alice, "send", "hello all").rc == 0
    dm = run_chat(bob, "send", "--to", "alice", "hi alice, Bob here")
    assert dm.rc == 0, dm.err
    assert "[@alice] Bob: hi alice, Bob here" in dm.out
    reply = run_chat(alice, "--json", "send", "--room", "dm:alice:bob", "hi Bob")
    assert reply.json_lines()[0]["room"] == "dm:alice:bob"

    general = run_chat(bob, "history")
    assert general.out.splitlines()[-1].endswith("[general] alice: hello all")
    for text in ("p1", "p2", "p3"):
        assert run_chat(alice, "send", text).rc == 0
    newest = run_chat(bob, "history", "--limit", "2")
    assert [line.rsplit(": ", 1)[1] for line in newest.out.splitlines()] == ["p2", "p3"]
    hint = newest.err.strip().rsplit(" ", 1)
    assert hint[0] == "chat: older messages: add --before"
    older = run_chat(bob, "history", "--limit", "2", "--before", hint[1])
    assert [line.rsplit(": ", 1)[1] for line in older.out.splitlines()] == ["hello all", "p1"]
    direct = run_chat(bob, "history", "--to", "alice", "--json").json_lines()[0]
    assert [m["text"] for m in direct["messages"]] == ["hi Bob", "hi alice, Bob here"]
    rooms = run_chat(alice, "rooms", "--json").json_lines()[0]["rooms"]
    assert {r["id"] for r in rooms} == {"general", "dm:alice:bob"}
    dm_room = next(r for r in rooms if r["kind"] == "direct")
    assert dm_room["name"] == "Bob"
    human_rooms = run_chat(alice, "rooms").out
    assert "@bob" in human_rooms

    to_self = run_chat(alice, "send", "--to", "ALICE", "me")
    assert to_self.rc == 1
    assert len(to_self.err.splitlines()) == 1
    missing = run_chat(alice, "history", "--room", "dm:bob:carol")
    assert missing.rc == 1
    wrong = run_chat(tmp_path / "x", "connect", "alice", "--server", server.url,
                     "--password-stdin", stdin="nope")  # fmt: skip
    assert wrong.rc == 1
    for result in (to_self, missing, wrong):
        no_traceback(result)

    status = run_chat(bob, "status", "--json").json_lines()[0]
    assert status["online"] == ["alice", "Bob"] or sorted(status["online"]) == ["Bob", "alice"]
    assert run_chat(bob, "disconnect").rc == 0
    assert run_chat(bob, "status").rc == 2
    online = run_chat(alice, "status", "--json").json_lines()[0]["online"]
    assert online == ["alice"]


def test_watch_sees_the_other_users_messages(tmp_path: Path, server: ChatServer) -> None:
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    connect(alice, server, "alice")
    connect(bob, server, "bob")
    watcher = Watcher(bob)
    try:
        assert run_chat(alice, "send", "general news").rc == 0
        assert run_chat(alice, "send", "--to", "bob", "psst").rc == 0
        events = watcher.wait_for(has_texts("general news", "psst"))
    finally:
        watcher.stop()
    assert watcher.texts() == ["general news", "psst"]
    created = [e for e in events if e["type"] == "room.created"]
    assert [e["room"]["id"] for e in created] == ["dm:alice:bob"]
    offsets = [e["offset"] for e in events]
    assert offsets == sorted(offsets)


def test_two_profiles_of_one_user_both_see_a_message_and_the_cursor_moves(
    tmp_path: Path, server: ChatServer
) -> None:
    home, bob = tmp_path / "alice", tmp_path / "bob"
    connect(home, server, "alice", "pw", "--profile", "laptop")
    connect(home, server, "alice", "pw", "--profile", "phone")
    connect(bob, server, "bob")
    before = run_chat(home, "--profile", "laptop", "status", "--json").json_lines()[0]
    assert len(before["sessions"]) == 2
    laptop, phone = Watcher(home, "--profile", "laptop"), Watcher(home, "--profile", "phone")
    try:
        sent = run_chat(bob, "--json", "send", "for both of you")
        message_id = sent.json_lines()[0]["id"]
        laptop.wait_for(has_texts("for both of you"))
        phone.wait_for(has_texts("for both of you"))
        deadline = time.monotonic() + 10
        while True:  # the next poll acknowledges the message
            status = run_chat(home, "--profile", "phone", "status", "--json").json_lines()[0]
            if status["cursor"] >= message_id or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    finally:
        laptop.stop()
        phone.stop()
    assert status["cursor"] >= message_id > before["cursor"]
    general = next(r for r in status["rooms"] if r["id"] == "general")
    assert general["unread"] == 0
    for profile in ("laptop", "phone"):
        saved = json.loads((home / f"{profile}.json").read_text())
        assert saved["offset"] >= message_id


def test_a_restarted_client_resumes_without_duplicates_or_gaps(
    tmp_path: Path, server: ChatServer
) -> None:
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    connect(alice, server, "alice")
    connect(bob, server, "bob")
    first = Watcher(alice)
    try:
        for text in ("m1", "m2"):
            assert run_chat(bob, "send", text).rc == 0
        first.wait_for(has_texts("m1", "m2"))
    finally:
        first.stop()
    # While no client runs: more messages, in two rooms.
    assert run_chat(bob, "send", "m3").rc == 0
    assert run_chat(bob, "send", "--to", "alice", "m4").rc == 0
    second = Watcher(alice)
    try:
        second.wait_for(has_texts("m3", "m4"))
        assert run_chat(bob, "send", "m5").rc == 0
        second.wait_for(has_texts("m5"))
    finally:
        second.stop()
    assert first.texts() == ["m1", "m2"]
    assert second.texts() == ["m3", "m4", "m5"]
    seen = [e["offset"] for e in first.events + second.events]
    assert len(seen) == len(set(seen))


def test_the_client_survives_a_server_restart(tmp_path: Path, server: ChatServer) -> None:
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    connect(alice, server, "alice")
    connect(bob, server, "bob")
    watcher = Watcher(alice, "--poll", "2")
    try:
        assert run_chat(bob, "send", "before").rc == 0
        watcher.wait_for(has_texts("before"))
        server.restart()
        assert run_chat(bob, "send", "after").rc == 0
        watcher.wait_for(has_texts("after"))
    finally:
        err = watcher.stop()
    assert watcher.texts() == ["before", "after"]
    assert "resynchronised" not in err
    status = run_chat(alice, "status")
    assert status.rc == 0, status.err
    history = run_chat(alice, "history", "--json").json_lines()[0]
    assert [m["text"] for m in history["messages"]] == ["after", "before"]
