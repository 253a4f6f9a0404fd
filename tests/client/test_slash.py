"""Interactive mode's slash commands (`client.slash` and the features' slash forms) in-process,
against a real `chat-server`.

The terminal side of interactive mode is tested with a pseudo-terminal in
`test_interactive.py`; here a small fake stands in for the screen, so that
each command's words, output lines and notices can be checked exactly.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from client.context import Context
from client.interactive import SLASH_HELP as HELP
from client.interactive import slash_commands as commands
from client.slash import ScreenWriter
from client.state import StateStore
from tests.client.real_server import ChatServer, connect
from tests.client.support import ok, one_json, run_chat

HELP_NAMES = set(re.findall(r"/[a-z]+", HELP))
TRICKY = ["~nosuchuser/x", "~", "#", "#0", "--force", "-", "0", "1", "9" * 30, "@", "/join/",
          "--members", ",", "1h", "25:00", "\x00", "..", "\u202e"]  # fmt: skip
WORDS = st.one_of(
    st.text(max_size=40),
    st.lists(st.sampled_from(TRICKY) | st.text(max_size=5), max_size=5).map(" ".join),
)


class FakeShell:
    """The screen and current room of an interactive session."""

    def __init__(self, home: Path) -> None:
        self.ctx = Context(store=StateStore(home, "default"), out=io.StringIO(), err=io.StringIO())
        self.room = "general"
        self.shown: list[str] = []
        self.notices: list[str] = []
        self.newest: int | None = None

    def newest_message(self) -> int | None:
        return self.newest

    @property
    def screen(self) -> FakeShell:
        return self

    def show(self, line: str) -> None:
        self.shown.append(line)

    def notice(self, line: str) -> None:
        self.notices.append(line)


def test_slash_commands_run_the_subcommands_for_the_current_room(
    tmp_path: Path, server: ChatServer
) -> None:
    alice, bob, carol = tmp_path / "alice", tmp_path / "bob", tmp_path / "carol"
    for home, name in ((alice, "alice"), (bob, "bob"), (carol, "carol")):
        connect(home, server, name)
    shell = FakeShell(alice)
    run = commands(shell)
    upload = tmp_path / "notes.txt"
    upload.write_text("some notes")
    out = tmp_path / "out"
    out.mkdir()

    async def say(command: str) -> list[str]:
        before = len(shell.shown)
        name, _, words = command.partition(" ")
        assert await run[name](words) is True
        return shell.shown[before:]

    async def part_one() -> tuple[str, str]:
        created = await say("/create the team --members bob")
        match = re.fullmatch(r"created (g[0-9]+) \(the team\)", created[0])
        assert match is not None, created
        shell.room = match[1]
        token = (await say("/link"))[0]
        assert any(f"/join/{token}" in n for n in shell.notices)
        return match[1], token

    gid, token = asyncio.run(part_one())
    ok(run_chat(carol, "join", token))
    message = one_json(run_chat(bob, "send", "--room", gid, "--json", "agenda"))["id"]

    async def part_two() -> None:
        assert await say("/requests") == [f"carol asked to join {gid} at " + shell.shown[-1][-5:]]
        assert await say("/approve carol") == [f"carol: approved for {gid}"]
        # Interactive mode shows what a command made when its event comes back: once.
        assert await say(f"/comment {message} looks fine") == []
        shell.newest = message
        assert await say("/comment last and another") == []
        assert await say("/comment ^ and a third") == []
        comments = await say(f"/comments #{message}")
        assert len(comments) == 3
        assert comments[0].endswith(f"[the team] re #{message} alice: looks fine")
        assert await say("/schedule 2h standup reminder") == []
        number = re.fullmatch(r"cancel with: /cancel ([0-9]+)", shell.notices[-1])
        assert number is not None, shell.notices[-1]
        listed = await say("/scheduled")
        assert len(listed) == 1
        assert listed[0].endswith(f"to {gid}: standup reminder")
        assert await say(f"/cancel {number[1]}") == [f"cancelled scheduled message #{number[1]}"]
        assert await say("/scheduled") == []
        assert await say(f"/upload {upload}") == []
        assert await say("/invite dave") == []  # no such user: the server's word as a notice

    asyncio.run(part_two())
    assert "not found" in shell.notices[-1] or "no user" in shell.notices[-1].lower()
    history = one_json(run_chat(bob, "history", "--room", gid, "--json"))["messages"]
    file_message = next(m for m in history if "file" in m)

    async def part_three() -> None:
        saved = await say(f"/download {file_message['id']} {out}")
        assert saved == [f"saved {out / 'notes.txt'} (10 B)"]
        assert await say(f"/download {file_message['id']} {out}") == []
        assert "--force" in shell.notices[-1]
        assert len(await say(f"/download {file_message['id']} {out} --force")) == 1
        for bad, usage in (
            ("/comment abc", "usage: /comment <id|last|^> <text>"),
            ("/comment 5", "usage: /comment <id> <text>"),
            ("/download", "usage: /download <id|last|^> [path] [--force]"),
            ("/schedule soon", "usage: /schedule <when> <text>"),
            ("/approve a b c", "usage: /approve [room] <user>"),
            ("/create", "usage: /create <name> [--members a,b]"),
        ):
            assert await say(bad) == []
            assert shell.notices[-1] == usage
        assert await say("/schedule whenever text") == []
        assert "not" in shell.notices[-1]
        assert await say("/leave") == []  # the owner, while others remain
        assert await say("/report alice") == []  # yourself
        assert await say("/report bob being rude") == ["reported bob"]

    asyncio.run(part_three())
    digest = hashlib.sha256((out / "notes.txt").read_bytes()).hexdigest()
    assert digest == file_message["file"]["sha256"]


def test_help_names_every_slash_command() -> None:
    shell = FakeShell(Path("/nonexistent"))
    for name in commands(shell):
        assert name in HELP


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=st.sampled_from(sorted(HELP_NAMES)), words=WORDS)
@example(name="/upload", words="~nosuchuser/x")  # expanduser raises RuntimeError
@example(name="/download", words="5 ~nosuchuser/x")
def test_no_words_make_a_slash_command_fail(name: str, words: str, tmp_path: Path) -> None:
    shell = FakeShell(tmp_path / "nobody")  # not connected: every command stops with a notice

    async def scenario() -> bool:
        return await commands(shell)[name](words)

    assert asyncio.run(scenario()) is True
    assert len(shell.notices) == 1
    assert shell.shown == []


def test_no_words_make_a_connected_slash_command_fail(
    tmp_path: Path, server: ChatServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # where a /download without a path would write
    home = tmp_path / "alice"
    connect(home, server, "alice")
    connect(tmp_path / "bob", server, "bob")
    shell = FakeShell(home)
    run = commands(shell)

    @settings(max_examples=60, deadline=None)
    @given(name=st.sampled_from(sorted(HELP_NAMES)), words=WORDS)
    @example(name="/upload", words="a\x00b")  # open() raises ValueError for a NUL
    @example(name="/download", words="1 a\x00b")
    def check(name: str, words: str) -> None:
        before = len(shell.notices) + len(shell.shown)

        async def scenario() -> bool:
            return await run[name](words)

        assert asyncio.run(scenario()) is True
        assert len(shell.notices) + len(shell.shown) > before  # it always says something

    check()


def test_the_screen_writer_hands_over_whole_lines() -> None:
    lines: list[str] = []
    writer = ScreenWriter(lines.append)
    writer.write("one\ntw")
    writer.write("o\n")
    print("three", file=writer, flush=True)
    assert lines == ["one", "two", "three"]
    assert not writer.isatty()
