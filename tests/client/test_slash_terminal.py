"""The slash commands of rooms and links in a real interactive session (pseudo-terminal):
their answers and the events they cause appear above the prompt."""

from __future__ import annotations

import re
from pathlib import Path

import pexpect

from tests.client import test_interactive
from tests.client.real_server import ChatServer, connect
from tests.client.support import ok, run_chat

spawn = test_interactive.spawn  # pexpect children, closed after the test


def test_an_owner_runs_a_room_from_the_prompt(
    tmp_path: Path, server: ChatServer, spawn: list[pexpect.spawn]
) -> None:
    alice, carol = tmp_path / "alice", tmp_path / "carol"
    connect(alice, server, "alice")
    connect(carol, server, "carol")
    child = test_interactive.start(alice, spawn)
    child.expect_exact("/help lists the commands")

    child.sendline("/help")
    child.expect_exact("/download <id> [path] [--force]")
    # A command's answer is printed before the next line typed is read; the events it
    # causes arrive on their own, before or after it: the test waits for the events.
    child.sendline("/create crew")
    child.expect(r"\* room (g[0-9]+) \(crew\) created by alice")
    gid = child.match[1]
    child.sendline(f"/room {gid}")
    child.expect_exact("[crew] ")  # the prompt names the room
    child.sendline("/link")
    child.expect(r"join link for g[0-9]+: /join/([A-Za-z0-9_-]+)")
    token = child.match[1]

    ok(run_chat(carol, "join", token))
    child.expect_exact(f"* carol asks to join {gid} (chat approve {gid} carol)")
    child.sendline("/approve carol")
    child.expect_exact(f"* carol's request to join {gid} was approved")
    ok(run_chat(carol, "send", "--room", gid, "hi crew"))
    child.expect(r"#[0-9]+ \[crew\] carol: hi crew")
    message = ok(run_chat(carol, "history", "--room", gid, "--json")).json_lines()[0]["messages"]
    child.sendline(f"/comment {message[0]['id']} welcome")
    child.expect_exact(f"re #{message[0]['id']} alice: welcome")
    child.sendline("/schedule 1h later on")
    child.expect(r"cancel with: /cancel ([0-9]+)")  # what works at this prompt
    scheduled = child.match[1]  # its event comes before or after this notice
    child.sendline("/comment last and the newest")
    child.expect_exact(f"re #{message[0]['id']} alice: and the newest")
    child.sendline("/comment nope")
    child.expect_exact("usage: /comment <id|last|^> <text>")
    child.sendline("/quit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    transcript = test_interactive.transcript(child)
    assert "Traceback" not in transcript
    assert f"created {gid} (crew)" in transcript
    assert f"carol: approved for {gid}" in transcript
    # Each thing made from the prompt is shown once: when its event comes back.
    assert transcript.count("alice: welcome") == 1
    # (the comment's event, later in the log, came after the schedule's)
    assert len(re.findall(rf"\* scheduled #{scheduled} at .* to {gid}: later on", transcript)) == 1
    assert "chat cancel" not in transcript
