"""Rooms, join links and requests, comments, scheduled messages and reports through `chat`,
as subprocesses against a real `chat-server`."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.client import test_cli_server
from tests.client.real_server import ChatServer, Watcher, connect, run_chat
from tests.client.support import Result, no_traceback

server = test_cli_server.server  # the fixture: one real chat-server per test


def ok(result: Result) -> Result:
    assert result.rc == 0, result.err
    no_traceback(result)
    return result


def refused(result: Result, *words: str) -> Result:
    """Exit 1 with the server's message as one line on stderr."""
    assert result.rc == 1, (result.out, result.err)
    no_traceback(result)
    assert len(result.err.splitlines()) == 1, result.err
    for word in words:
        assert word in result.err, result.err
    return result


def one_json(result: Result) -> dict[str, Any]:
    lines = ok(result).json_lines()
    assert len(lines) == 1, result.out
    return lines[0]


def has_types(*types: str) -> Any:
    def done(events: list[dict[str, Any]]) -> bool:
        return set(types) <= {e["type"] for e in events}

    return done


def test_invite_link_request_approve_reject_between_three_users(
    tmp_path: Path, server: ChatServer
) -> None:
    alice, bob, carol = tmp_path / "alice", tmp_path / "bob", tmp_path / "carol"
    for home, name in ((alice, "alice"), (bob, "bob"), (carol, "carol")):
        connect(home, server, name)
    carol_watch = Watcher(carol)
    try:
        room = one_json(
            run_chat(alice, "rooms", "create", "Project X", "--members", "bob", "--json")
        )["room"]
        gid = room["id"]
        assert gid.startswith("g")
        assert room["owner"] == "alice"
        assert sorted(room["members"]) == ["alice", "bob"]
        assert "general" in ok(run_chat(alice, "rooms")).out  # plain `rooms` still lists
        listed = one_json(run_chat(bob, "rooms", "--json"))["rooms"]
        assert gid in {r["id"] for r in listed}
        refused(run_chat(carol, "history", "--room", gid))

        human_link = ok(run_chat(alice, "rooms", "link", gid))
        assert f"/join/{human_link.out.strip()}" in human_link.err
        link = one_json(run_chat(alice, "rooms", "link", gid, "--json"))
        assert link["path"] == f"/join/{link['token']}"
        refused(run_chat(bob, "rooms", "link", gid))  # only the owner

        asked = ok(run_chat(carol, "join", link["token"]))
        assert f"asked to join {gid}" in asked.out
        refused(run_chat(bob, "requests", gid))
        pending = one_json(run_chat(alice, "requests", gid, "--json"))["requests"]
        assert [(r["user"], r["status"]) for r in pending] == [("carol", "pending")]
        assert "carol asked to join" in ok(run_chat(alice, "requests", gid)).out

        rejected = one_json(run_chat(alice, "reject", gid, "carol", "--json"))["request"]
        assert rejected["status"] == "rejected"
        refused(run_chat(carol, "history", "--room", gid))
        refused(run_chat(alice, "approve", gid, "carol"))  # nothing pending any more

        # The link still works; this time as a path, and the owner approves.
        again = one_json(run_chat(carol, "join", link["path"], "--json"))["request"]
        assert again["status"] == "pending"
        approved = ok(run_chat(alice, "approve", gid, "carol"))
        assert "carol: approved" in approved.out
        ok(run_chat(carol, "send", "--room", gid, "hello project"))
        member = ok(run_chat(carol, "join", f"{server.url}/join/{link['token']}"))
        assert "already a member" in member.out

        events = carol_watch.wait_for(has_types("room.join_requested", "room.join_decided"))
        decided = [e["request"]["status"] for e in events if e["type"] == "room.join_decided"]
        assert decided[:1] == ["rejected"]
    finally:
        carol_watch.stop()

    # Revoking the link stops new requests; leaving works for members, not for the owner.
    revoked = one_json(run_chat(alice, "rooms", "revoke", gid, link["path"], "--json"))
    assert revoked == {"room": gid, "token": link["token"], "revoked": True}
    refused(run_chat(alice, "rooms", "revoke", gid, link["token"]))
    assert one_json(run_chat(bob, "leave", gid, "--json")) == {"room": gid, "left": True}
    refused(run_chat(bob, "join", link["token"]))
    refused(run_chat(alice, "leave", gid))  # the owner, while carol remains
    invited = ok(run_chat(alice, "rooms", "invite", gid, "bob"))
    assert "now a member" in invited.out
    assert "already" in ok(run_chat(alice, "rooms", "invite", gid, "bob")).out
    refused(run_chat(carol, "rooms", "invite", gid, "bob"))  # not the owner
    refused(run_chat(alice, "rooms", "invite", gid, "nobody"))
    refused(run_chat(alice, "rooms", "create", ""))


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
    assert [line.split(" ", 1)[1] for line in lines] == [
        f"[general] re #{message} bob: looks good",
        f"[general] re #{message} carol: agreed",
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


def test_schedule_scheduled_cancel(tmp_path: Path, server: ChatServer) -> None:
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    connect(alice, server, "alice")
    connect(bob, server, "bob")
    later = one_json(run_chat(alice, "schedule", "--in", "1h", "--json", "in an hour"))
    first = later["scheduled"]
    assert first["status"] == "pending"
    assert first["room"] == "general"
    assert abs(first["send_at"] - (time.time() + 3600)) < 60
    at = datetime.fromtimestamp(time.time() + 7200, UTC).isoformat(timespec="seconds")
    dm = one_json(run_chat(alice, "schedule", "--at", at, "--to", "bob", "--json", "dm later"))
    second = dm["scheduled"]
    assert second["to"] == "bob"
    human = ok(run_chat(alice, "schedule", "--in", "3h", "much", "later"))
    assert human.out.startswith("scheduled #")
    assert "chat cancel" in human.err

    pending = one_json(run_chat(alice, "scheduled", "--json"))["scheduled"]
    assert [s["text"] for s in pending] == ["in an hour", "dm later", "much later"]
    assert one_json(run_chat(bob, "scheduled", "--json"))["scheduled"] == []
    listing = ok(run_chat(alice, "scheduled")).out.splitlines()
    assert listing[1].startswith(f"#{second['id']} at ")
    assert listing[1].endswith("to @bob: dm later")

    cancelled = one_json(run_chat(alice, "cancel", str(first["id"]), "--json"))
    assert cancelled == {"scheduled": first["id"], "cancelled": True}
    refused(run_chat(alice, "cancel", str(first["id"])))  # already cancelled: 409
    refused(run_chat(bob, "cancel", str(second["id"])))  # not bob's: 404
    left = one_json(run_chat(alice, "scheduled", "--json"))["scheduled"]
    assert [s["id"] for s in left] == [second["id"], pending[2]["id"]]

    # Due soon: delivered by the server, seen by bob as an ordinary message.
    watcher = Watcher(bob)
    try:
        soon = one_json(run_chat(alice, "schedule", "--in", "1s", "--json", "right away"))
        events = watcher.wait_for(
            lambda evs: any(e.get("message", {}).get("text") == "right away" for e in evs)
        )
    finally:
        watcher.stop()
    delivered = next(e["message"] for e in events if e["type"] == "message.sent")
    assert delivered["scheduled"] == soon["scheduled"]["id"]

    past = one_json(run_chat(alice, "schedule", "--at", "2000-01-01T00:00:00Z", "--json", "now"))
    assert past["message"]["text"] == "now"  # a time that has passed: sent at once
    ok(run_chat(alice, "send", "--to", "bob", "hi"))
    direct = one_json(run_chat(alice, "schedule", "--in", "1h", "--room", "@bob", "--json", "x"))
    assert direct["scheduled"]["room"] == "dm:alice:bob"
    listed = ok(run_chat(alice, "scheduled")).out.splitlines()
    assert f"#{direct['scheduled']['id']} at " in next(
        line for line in listed if "to @bob: x" in line
    )
    refused(run_chat(alice, "schedule", "--in", "40d", "too far"))
    for bad in (("--in", "soon"), ("--at", "tomorrow"), ("--in", "0")):
        usage = run_chat(alice, "schedule", *bad, "text")
        assert usage.rc == 2, usage.err
        no_traceback(usage)
    assert run_chat(alice, "schedule", "no time given").rc == 2


def test_three_reports_ban_the_user_from_sending(tmp_path: Path, server: ChatServer) -> None:
    names = ("eve", "r1", "r2", "r3")
    homes = {name: tmp_path / name for name in names}
    for name in names:
        connect(homes[name], server, name)
    ok(run_chat(homes["eve"], "send", "before the reports"))
    refused(run_chat(homes["eve"], "report", "eve"))  # reporting yourself
    refused(run_chat(homes["r1"], "report", "nobody"))
    first = one_json(run_chat(homes["r1"], "report", "eve", "--reason", "spam", "--json"))
    assert first == {"user": "eve", "banned": False}
    assert "reported eve" in ok(run_chat(homes["r1"], "report", "eve")).out  # counts once
    assert one_json(run_chat(homes["r2"], "report", "eve", "--json"))["banned"] is False
    third = ok(run_chat(homes["r3"], "report", "eve"))
    assert "banned" in third.out

    sent = refused(run_chat(homes["eve"], "send", "after the reports"), "banned")
    assert sent.err.startswith("chat: ")
    refused(run_chat(homes["eve"], "schedule", "--in", "1h", "later"), "banned")
    ok(run_chat(homes["r1"], "send", "others still send"))
    # What eve's watch prints from her connect on, one event at a time, up to the ban.
    lines: list[str] = []
    for _ in range(12):
        lines += ok(run_chat(homes["eve"], "watch", "--count", "1")).out.splitlines()
        if lines and "banned" in lines[-1]:
            break
    assert any(line.endswith("[general] eve: before the reports") for line in lines), lines
    assert "* you are banned from sending until " in lines[-1]
