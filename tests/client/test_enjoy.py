"""What makes the client pleasant (issue 13), through the real `chat` and a real server."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.client.real_server import ChatServer, Watcher, connect
from tests.client.support import no_traceback, ok, one_json, refused, run_chat

UNSAFE = "\x1b\x07\x7f\x85\x9b\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029"


def test_edit_delete_and_search(tmp_path: Path, server: ChatServer) -> None:
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    connect(alice, server, "alice")
    connect(bob, server, "bob")
    sent = one_json(run_chat(alice, "send", "--json", "lunch at noon?"))
    watcher = Watcher(bob)
    try:
        edited = ok(run_chat(alice, "edit", str(sent["id"]), "lunch at one?"))
        assert re.search(rf"#{sent['id']} \[general\] alice: lunch at one\? \(edited\)", edited.out)
        events = watcher.wait_for(lambda ev: any(e["type"] == "message.edited" for e in ev))
        assert events[-1]["message"]["text"] == "lunch at one?"
    finally:
        watcher.stop()
    history = ok(run_chat(bob, "history")).out
    assert "alice: lunch at one? (edited)" in history
    assert "noon" not in history
    refused(run_chat(bob, "edit", str(sent["id"]), "mine now"), "only its author")
    refused(run_chat(bob, "delete", str(sent["id"])), "only its author")

    found = ok(run_chat(bob, "search", "LUN"))
    assert f"#{sent['id']} [general] alice: lunch at one? (edited)" in found.out
    assert one_json(run_chat(bob, "search", "--json", "lunch"))["messages"][0]["id"] == sent["id"]
    nothing = ok(run_chat(bob, "search", "dinner"))
    assert nothing.out == ""
    assert "no messages hold" in nothing.err

    assert ok(run_chat(alice, "delete", f"#{sent['id']}")).out == f"deleted #{sent['id']}\n"
    assert "lunch" not in ok(run_chat(bob, "history")).out
    assert one_json(run_chat(bob, "search", "--json", "lunch"))["messages"] == []
    refused(run_chat(alice, "edit", str(sent["id"]), "again"), "no message")


def test_rooms_by_name_and_direct_rooms_as_names_are_written(
    tmp_path: Path, server: ChatServer
) -> None:
    alice, ivan = tmp_path / "alice", tmp_path / "ivan"
    connect(alice, server, "alice")
    connect(ivan, server, "Иван")
    ok(run_chat(alice, "rooms", "create", "Project X", "--members", "Иван"))
    ok(run_chat(alice, "send", "--room", "Project X", "kick-off"))
    shown = ok(run_chat(ivan, "history", "--room", "project x")).out
    assert re.search(r"#[0-9]+ \[Project X\] alice: kick-off", shown)
    ok(run_chat(ivan, "send", "--to", "alice", "привет"))
    assert "[@Иван] Иван: привет" in ok(run_chat(alice, "history", "--room", "@иван")).out
    assert "[@Иван] Иван: привет" in ok(run_chat(alice, "history", "--room", "Иван")).out

    # Wherever a room is typed: links, schedules, uploads, requests, leaving.
    assert ok(run_chat(alice, "rooms", "link", "Project X")).out.strip()
    scheduled = one_json(
        run_chat(alice, "schedule", "--in", "1h", "--room", "Project X", "--json", "later")
    )
    assert scheduled["scheduled"]["room"].startswith("g")
    notes = tmp_path / "notes.txt"
    notes.write_text("n")
    assert (
        "[Project X] alice: [file: notes.txt, 1 B]"
        in ok(run_chat(alice, "upload", str(notes), "--room", "Project X")).out
    )
    ok(run_chat(alice, "requests", "project X"))
    ok(run_chat(ivan, "leave", "Project X"))
    missing = run_chat(alice, "send", "--room", "Project Y", "hello?")
    assert missing.rc == 2
    assert "none of your rooms is called 'Project Y'" in missing.err
    ok(run_chat(alice, "rooms", "create", "project x"))
    twice = run_chat(alice, "history", "--room", "Project x")
    assert twice.rc == 2
    assert "give the id" in twice.err
    no_traceback(twice)


def test_what_others_write_cannot_act_on_the_terminal(tmp_path: Path, server: ChatServer) -> None:
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    connect(alice, server, "alice")
    connect(bob, server, "bob")
    evil = "a\u202eexe.txt\u2028b\x1b]0;owned\x07c\x7fd\u2066e\u0085f"
    ok(run_chat(bob, "send", evil))
    for args in (("history",), ("history", "--color=always"), ("search", "exe")):
        out = ok(run_chat(alice, *args)).out
        assert "a\ufffdexe.txt\ufffdb\ufffd]0;owned\ufffdc\ufffdd\ufffde\ufffdf" in out
        assert not set(UNSAFE).intersection(out.replace("\x1b[", "")), (args, out)
    raw = ok(run_chat(alice, "history", "--json")).out
    assert not set(UNSAFE).intersection(raw)  # escaped as \\uXXXX ...
    assert json.loads(raw)["messages"][0]["text"] == evil  # ... and still the same text


def test_colours_only_when_asked_or_on_a_terminal(tmp_path: Path, server: ChatServer) -> None:
    alice = tmp_path / "alice"
    connect(alice, server, "alice")
    ok(run_chat(alice, "send", "hi @alice"))
    plain = ok(run_chat(alice, "history")).out  # not a terminal
    assert "\x1b" not in plain
    coloured = ok(run_chat(alice, "history", "--color=always")).out
    assert "\x1b[1malice\x1b[0m" in coloured  # one's own name in bold
    assert "\x1b[7m@alice\x1b[0m" in coloured  # a mention of the user, reversed
    assert "\x1b" not in ok(run_chat(alice, "history", "--color=never")).out


def test_status_says_the_quota_the_ban_and_who_was_seen(tmp_path: Path, server: ChatServer) -> None:
    homes = {name: tmp_path / name for name in ("alice", "bob", "carol", "dave", "erin")}
    for name, home in homes.items():
        connect(home, server, name)
    ok(run_chat(homes["alice"], "send", "one"))
    status = ok(run_chat(homes["alice"], "status")).out
    assert re.search(r"general: [0-9]+ of [0-9]+ messages left in this window, all of them", status)
    ok(run_chat(homes["erin"], "disconnect"))
    status = ok(run_chat(homes["alice"], "status")).out
    assert re.search(r"last seen: .*erin just now", status)
    assert "erin" not in re.search(r"online: (.*)", status)[1]  # type: ignore[index]

    for reporter in ("alice", "carol", "dave"):
        ok(run_chat(homes[reporter], "report", "bob"))
    banned = refused(run_chat(homes["bob"], "send", "let me"), "banned")
    assert re.search(r"\(until ([A-Za-z]{3} )?[0-9]{2}:[0-9]{2}, in [0-9]+ (min|h)", banned.err)
    assert re.search(
        r"banned from sending until .* \(in [0-9]+ (min|h)", run_chat(homes["bob"], "status").out
    )


def test_a_profile_keeps_its_server_and_says_when_its_user_changes(
    tmp_path: Path, server: ChatServer
) -> None:
    home = tmp_path / "home"
    connect(home, server, "alice")
    again = ok(run_chat(home, "connect", "alice", "--password-stdin", stdin="pw"))
    assert f"connected to {server.url}" in again.out
    switched = ok(run_chat(home, "connect", "bob", "--password-stdin", stdin="pw"))
    assert f"connected to {server.url}" in switched.out
    assert "this profile was alice's" in switched.err


def test_watch_from_now_skips_what_was_missed(tmp_path: Path, server: ChatServer) -> None:
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    connect(alice, server, "alice")
    connect(bob, server, "bob")
    ok(run_chat(bob, "send", "missed while away"))
    watcher = Watcher(alice, "--from-now")
    try:
        for n in range(100):  # until the watcher (started at some point) sees one
            ok(run_chat(bob, "send", f"live {n}"))
            try:
                watcher.wait_for(bool, timeout_s=0.5)
                break
            except AssertionError:
                continue
        assert watcher.texts()
        assert "missed while away" not in watcher.texts()
    finally:
        watcher.stop()


def test_sessions_blocks_and_comment_pages(tmp_path: Path, server: ChatServer) -> None:
    alice, phone, bob = tmp_path / "alice", tmp_path / "phone", tmp_path / "bob"
    connect(alice, server, "alice")
    connect(phone, server, "alice")
    connect(bob, server, "bob")
    listed = one_json(run_chat(alice, "sessions", "--json"))["sessions"]
    assert len(listed) == 2
    other = next(s["id"] for s in listed if not s["current"])
    assert "(this profile)" in ok(run_chat(alice, "sessions")).out
    assert ok(run_chat(alice, "logout-session", str(other))).out == f"ended session {other}\n"
    refused(run_chat(phone, "status"), "connect")

    ok(run_chat(alice, "block", "bob"))
    assert ok(run_chat(alice, "blocked")).out == "bob\n"
    refused(run_chat(bob, "send", "--to", "alice", "hey"), "does not accept")
    ok(run_chat(alice, "unblock", "bob"))
    ok(run_chat(bob, "send", "--to", "alice", "hey"))
    assert one_json(run_chat(alice, "blocked", "--json")) == {"blocked": []}

    message = one_json(run_chat(alice, "send", "--json", "thoughts?"))["id"]
    for text in ("one", "two", "three"):
        ok(run_chat(bob, "comment", str(message), text))
    page = one_json(run_chat(alice, "comments", str(message), "--limit", "2", "--json"))
    assert [c["text"] for c in page["comments"]] == ["one", "two"]
    assert page["next"] is not None
    human = ok(run_chat(alice, "comments", str(message), "--limit", "2"))
    assert f"add --after {page['next']}" in human.err
    rest = one_json(
        run_chat(alice, "comments", str(message), "--after", str(page["next"]), "--json")
    )
    assert [c["text"] for c in rest["comments"]] == ["three"]
    assert "(3 comments)" in ok(run_chat(alice, "history")).out


def test_unread_is_what_others_wrote_and_reading_a_room_reads_it(
    tmp_path: Path, server: ChatServer
) -> None:
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    connect(alice, server, "alice")
    connect(bob, server, "bob")
    ok(run_chat(alice, "send", "mine"))
    ok(run_chat(bob, "send", "theirs"))
    # A new connect of alice's lists exactly what is unread: bob's line, under its count.
    welcome = ok(run_chat(tmp_path / "again", "connect", "alice", "--server", server.url,
                          "--password-stdin", stdin="pw"))  # fmt: skip
    unread = welcome.out.split("-- unread (1) --\n", 1)[1].splitlines()
    assert len(unread) == 1
    assert unread[0].endswith("bob: theirs")
    ok(run_chat(bob, "send", "more"))
    ok(run_chat(alice, "history"))
    rooms = one_json(run_chat(alice, "rooms", "--json"))["rooms"]
    assert next(r for r in rooms if r["id"] == "general")["unread"] == 0
