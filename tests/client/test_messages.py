"""Messages: their JSON and lines, sending, history and comments.

Against the in-memory fake (a send whose answer was lost) and a real
`chat-server` (everything else), `chat` running in this process.
"""

from __future__ import annotations

import asyncio
import json
import stat
import unicodedata
from pathlib import Path
from typing import Any

from hypothesis import given

from client.display import Display
from client.messages import Message, message_line
from client.terminal import when
from tests.client.fake_chat import connect as fake_connect
from tests.client.fake_chat import fake_chat_server
from tests.client.real_server import ChatServer, Watcher, connect
from tests.client.strategies import messages, names
from tests.client.support import chat, no_traceback, ok, one_json, refused, run_chat

# What must never reach a terminal from another user's text (besides C0/C1/DEL).
UNSAFE = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029")


@given(messages())
def test_message_round_trip(raw: dict[str, Any]) -> None:
    message = Message.from_json(json.loads(json.dumps(raw)))
    assert (message.id, message.room, message.author, message.text) == (
        raw["id"],
        raw["room"],
        raw["author"],
        raw["text"],
    )
    assert message.ts == float(raw["ts"])
    assert message.file_name == (raw["file"]["name"] if "file" in raw else None)
    assert message.raw == raw


@given(messages(), names)
def test_a_message_line_cannot_carry_terminal_controls(raw: dict[str, Any], me: str) -> None:
    line = message_line(Message.from_json(raw), Display(me=me))
    assert all(c == "\n" or unicodedata.category(c) != "Cc" for c in line)
    assert not UNSAFE.intersection(line)
    if not any(unicodedata.category(c) == "Cc" or c in UNSAFE for c in raw["text"]):
        assert raw["text"] in line  # ordinary text (any script, NBSP, emoji) is kept
    assert line.startswith(f"{when(float(raw['ts']))} #{raw['id']} ")


def test_message_line_shape() -> None:
    message = Message.from_json(
        {"id": 1, "room": "dm:alice:bob", "author": "Bob", "text": "a\nb\x1b[2J", "ts": 0}
    )
    assert message_line(message, Display(me="Alice"), now=0) == (
        f"{when(0, 0)} #1 [@bob] Bob: a\n      b\ufffd[2J"
    )


def test_a_file_message_names_its_file_once() -> None:
    def shown(text: str) -> str:
        message = Message.from_json(
            {"id": 4, "room": "g2", "author": "bob", "text": text, "ts": 0.0,
             "file": {"name": "a.pdf", "size": 1, "content_type": "x/y", "sha256": "0" * 64}}
        )  # fmt: skip
        return message_line(message, Display(me="alice"), now=0.0).split(" ", 2)[2]

    assert shown("a.pdf") == "[g2] bob: [file: a.pdf, 1 B]"
    assert shown("the slides") == "[g2] bob: the slides [file: a.pdf, 1 B]"


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
    assert "@Bob" in human_rooms  # as its owner writes it

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


def test_comment_and_comments(tmp_path: Path, server: ChatServer) -> None:
    alice, bob, carol = tmp_path / "alice", tmp_path / "bob", tmp_path / "carol"
    for home, name in ((alice, "alice"), (bob, "bob"), (carol, "carol")):
        connect(home, server, name)
    message = one_json(run_chat(alice, "send", "--json", "what do you think?"))["id"]
    watcher = Watcher(alice)
    try:
        made = ok(run_chat(bob, "comment", str(message), "looks", "good"))
        assert f"re #{message} bob: looks good" in made.out
        second = one_json(run_chat(carol, "comment", f"#{message}", "agreed", "--json"))
        assert second["message"] == message
        assert second["author"] == "carol"
        events = watcher.wait_for(
            lambda evs: sum(e["type"] == "message.commented" for e in evs) >= 2
        )
    finally:
        watcher.stop()
    comments = one_json(run_chat(alice, "comments", str(message), "--json"))["comments"]
    assert [(c["author"], c["text"]) for c in comments] == [
        ("bob", "looks good"),
        ("carol", "agreed"),
    ]
    assert [c["id"] for c in comments] == [
        e["comment"]["id"] for e in events if e["type"] == "message.commented"
    ]
    lines = ok(run_chat(alice, "comments", str(message))).out.splitlines()
    # Each comment has its own id (to comment on), and says what it is on.
    assert [line.split(" ", 1)[1] for line in lines] == [
        f"#{comments[0]['id']} [general] re #{message} bob: looks good",
        f"#{comments[1]['id']} [general] re #{message} carol: agreed",
    ]
    history = one_json(run_chat(alice, "history", "--json", "--limit", "1"))["messages"]
    assert history[0]["comments"] == 2

    refused(run_chat(bob, "comment", "999999", "to nothing"))
    refused(run_chat(bob, "comments", "999999"))
    assert run_chat(bob, "comment", "abc", "x").rc == 2
    # A message in a group room: comments are for its members only.
    gid = one_json(run_chat(alice, "rooms", "create", "inner", "--json"))["room"]["id"]
    inner = one_json(run_chat(alice, "send", "--room", gid, "--json", "secret"))["id"]
    refused(run_chat(carol, "comment", str(inner), "let me in"))
    refused(run_chat(carol, "comments", str(inner)))
    assert "no comments" in ok(run_chat(alice, "comments", str(inner))).err


def test_a_send_whose_answer_was_lost_is_retried_with_the_same_key(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with fake_chat_server() as (fake, server):
            await fake_connect(tmp_path, server, "alice")
            fake.slow_sends = 1
            result = await chat(tmp_path, "--timeout", "0.3", "send", "only once")
            assert result.rc == 0, result.err
            assert "no answer from" in result.err
            assert "alice: only once" in result.out
            assert [m["text"] for m in fake.messages("general")] == ["only once"]
            assert len(fake.sent_keys) == 1

    asyncio.run(scenario())
