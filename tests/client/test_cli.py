"""`chat` itself: its help, usage errors and exit statuses, in this process; and a few
runs as a process of its own, the way a shell runs it (`python -m client`, the real
standard streams, the exit status the process ends with)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import socket
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from client.cli import main
from tests.client.fake_chat import connect, fake_chat_server, url
from tests.client.real_server import ChatServer
from tests.client.real_server import connect as real_connect
from tests.client.support import chat, no_traceback, run_chat_process

SUBCOMMANDS = ("connect", "send", "history", "status", "rooms", "watch", "disconnect")


def test_the_main_help_lists_every_subcommand_and_the_exit_codes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in SUBCOMMANDS:
        assert f"    {name} " in out
    assert "3 cannot reach the server" in out


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_every_subcommand_has_its_own_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([name, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: chat {name}")
    description = out.split("\n\n")[1]
    assert len(description.split()) > 8  # a sentence or two, not just the summary


@pytest.mark.parametrize(
    "argv",
    [
        ["history", "--limit", "0"],
        ["history", "--limit", "501"],
        ["history", "--before", "x"],
        ["watch", "--poll", "61"],
        ["watch", "--count", "-1"],
        ["--profile", "../etc", "status"],
        ["--timeout", "0", "status"],
        ["send"],
        ["send", "--room", "g1", "--to", "bob", "hi"],
        ["connect"],
        ["nonsense"],
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "usage: chat" in capsys.readouterr().err


FEATURE_SUBCOMMANDS = (
    "join", "requests", "approve", "reject", "leave", "comment", "comments", "report",
    "schedule", "scheduled", "cancel", "upload", "download",
)  # fmt: skip


ROOM_ACTIONS = ("list", "create", "invite", "link", "revoke")


def test_the_main_help_lists_them(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in FEATURE_SUBCOMMANDS:
        assert f"    {name} " in out


@pytest.mark.parametrize(
    "argv",
    [[name] for name in FEATURE_SUBCOMMANDS] + [["rooms", action] for action in ROOM_ACTIONS],
)
def test_each_has_help_that_explains_it(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*argv, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: chat {' '.join(argv)}")
    description = out.split("\n\n")[1]
    assert len(description.split()) > 8


def test_rooms_help_lists_its_actions(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rooms", "--help"]) == 0
    out = capsys.readouterr().out
    for action in ROOM_ACTIONS:
        assert f"    {action} " in out


@pytest.mark.parametrize(
    "argv",
    [
        ["rooms", "create"],
        ["rooms", "invite", "g1"],
        ["rooms", "link"],
        ["rooms", "revoke", "g1"],
        ["rooms", "nonsense"],
        ["join"],
        ["approve", "g1"],
        ["comment", "abc", "text"],
        ["comment", "0", "text"],
        ["comment", "5"],
        ["comments", "-1"],
        ["schedule", "text"],
        ["schedule", "--at", "12:00", "--in", "5m", "text"],
        ["schedule", "--in", "5m", "--room", "g1", "--to", "bob", "text"],
        ["cancel", "x"],
        ["upload"],
        ["upload", "f", "--room", "g1", "--to", "bob"],
        ["download"],
        ["download", "1.5"],
    ],
)
def test_usage_errors_of_the_feature_subcommands_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert "usage: chat" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["schedule", "--in", "soon", "text"],
        ["schedule", "--in", "0", "text"],
        ["schedule", "--at", "not a time", "text"],
        ["join", "/join/"],
    ],
)
def test_values_that_do_not_parse_exit_2_in_one_line(
    argv: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CHAT_HOME", str(tmp_path))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("chat: ")
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["rooms", "create", "x"],
        ["rooms", "link", "g1"],
        ["join", "tok"],
        ["requests", "g1"],
        ["comment", "1", "hi"],
        ["scheduled"],
        ["upload", "f"],
        ["download", "1"],
    ],
)
def test_they_need_a_connected_profile(
    argv: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CHAT_HOME", str(tmp_path))
    assert main(argv) == 2
    assert "is not connected" in capsys.readouterr().err


ROOM = st.sampled_from(["general", "g1", "g5", "@bob", "@nobody", "dm:alice:bob"])


USER = st.sampled_from(["bob", "alice", "nobody", "Bob"])


ID = st.sampled_from(["1", "2", "3", "5", "8", "999", "#2"])


TEXT = st.text(min_size=1, max_size=8).filter(lambda t: not t.startswith("-"))


PATH = st.sampled_from(["file.txt", "missing.bin", ".", "empty"])


POSITIONAL = {
    ("join",): [st.sampled_from(["abc", "/join/abc", "http://h/join/x"])],
    ("requests",): [ROOM], ("approve",): [ROOM, USER], ("reject",): [ROOM, USER],
    ("leave",): [ROOM], ("comment",): [ID, TEXT], ("comments",): [ID], ("report",): [USER],
    ("schedule",): [st.sampled_from(["--in", "--at"]), st.sampled_from(["1h", "90", "12:00", "x"]),
                    TEXT],
    ("scheduled",): [], ("cancel",): [ID], ("upload",): [PATH], ("download",): [ID],
    ("rooms", "list"): [], ("rooms", "create"): [TEXT], ("rooms", "invite"): [ROOM, USER],
    ("rooms", "link"): [ROOM], ("rooms", "revoke"): [ROOM, st.sampled_from(["abc", "/join/x"])],
}  # fmt: skip


FLAGS = st.lists(
    st.sampled_from([["--json"], ["--room", "g1"], ["--to", "bob"], ["--force"], ["-o", "out"],
                     ["--reason", "spam"], ["--members", "bob,nobody"], ["--text", "cap"],
                     ["--name", "n.csv"]]),
    max_size=2,
).map(lambda flags: [word for flag in flags for word in flag])  # fmt: skip


@st.composite
def command_lines(draw: st.DrawFn) -> list[str]:
    command = draw(st.sampled_from(sorted(POSITIONAL)))
    return [*command, *(draw(arg) for arg in POSITIONAL[command]), *draw(FLAGS)]


@pytest.mark.slow  # 80 command lines against a real server
def test_any_arguments_end_in_an_exit_status_never_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chat_server = ChatServer(tmp_path / "data", tmp_path / "server.log")
    chat_server.start()
    try:
        real_connect(tmp_path / "home", chat_server, "alice")
        real_connect(tmp_path / "bob", chat_server, "bob")
        monkeypatch.setenv("CHAT_HOME", str(tmp_path / "home"))
        monkeypatch.chdir(tmp_path)  # where uploads come from and downloads go
        (tmp_path / "file.txt").write_text("some text")
        (tmp_path / "empty").write_bytes(b"")
        (tmp_path / "out").mkdir()
        monkeypatch.setattr(sys, "stdin", io.StringIO("from stdin\n"))
        seen: set[int] = set()

        @settings(max_examples=80, deadline=None)
        @given(argv=command_lines())
        def check(argv: list[str]) -> None:
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                status = main(argv)
            assert status in (0, 1, 2), (status, err.getvalue())
            assert "Traceback" not in err.getvalue()
            seen.add(status)

        check()
    finally:
        chat_server.stop()
    assert seen == {0, 1, 2}  # the examples reach success, refusals and usage errors


@pytest.mark.slow  # sits out a stopped server or the retries of a lost one
def test_errors_are_one_line_with_the_documented_exit_codes(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with fake_chat_server() as (fake, server):
            await connect(tmp_path / "a", server, "alice")
            wrong = await chat(
                tmp_path / "b", "connect", "ALICE", "--server", url(server), "--password-stdin",
                stdin="not the password\n",
            )  # fmt: skip
            assert wrong.rc == 1
            assert wrong.err == "chat: wrong name or password\n"
            nobody = await chat(tmp_path / "a", "send", "--to", "nobody", "hi")
            assert (nobody.rc, nobody.err) == (1, "chat: no user nobody\n")
            assert (await chat(tmp_path / "a", "send", "--room", "x", "--to", "y", "z")).rc == 2
            assert (await chat(tmp_path / "a", "history", "--limit", "501")).rc == 2
            assert (await chat(tmp_path / "a", "frobnicate")).rc == 2
            no_tty = await chat(tmp_path / "a")
            assert no_tty.rc == 2
            assert "needs a terminal" in no_tty.err
            fake.tokens.clear()  # the server forgot the session
            revoked = await chat(tmp_path / "a", "status")
            assert revoked.rc == 1
            assert "chat connect" in revoked.err
            for result in (wrong, nobody, no_tty, revoked):
                no_traceback(result)
        # A bound socket that does not listen: connecting is refused, and no
        # other server can take the port meanwhile.
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            port = closed.getsockname()[1]
            state = tmp_path / "a" / "default.json"
            saved = json.loads(state.read_text())
            state.write_text(json.dumps({**saved, "server": f"http://127.0.0.1:{port}"}))
            gone = await chat(tmp_path / "a", "status")
        assert gone.rc == 3
        assert f"cannot reach http://127.0.0.1:{port}" in gone.err.splitlines()[-1]
        assert gone.err.count("retrying") == 3
        no_traceback(gone)

    asyncio.run(scenario())


def test_a_process_of_its_own_connects_sends_and_reads(tmp_path: Path, server: ChatServer) -> None:
    home = tmp_path / "alice"
    first = run_chat_process(
        home, "connect", "alice", "--server", server.url, "--password-stdin", stdin="pw"
    )
    assert first.rc == 0, first.err
    assert "registered and connected" in first.out
    sent = run_chat_process(home, "--json", "send", "hello from a process")
    assert sent.rc == 0, sent.err
    assert json.loads(sent.out)["text"] == "hello from a process"
    assert run_chat_process(home, "history").out.rstrip().endswith("alice: hello from a process")
    notes = tmp_path / "notes.txt"
    notes.write_text("привет\n", encoding="utf-8")
    uploaded = json.loads(run_chat_process(home, "--json", "upload", str(notes)).out)
    to_stdout = run_chat_process(home, "download", str(uploaded["id"]), "-o", "-")
    assert (to_stdout.rc, to_stdout.out) == (0, "привет\n")  # the bytes, on the real stdout
    assert run_chat_process(home, "disconnect").rc == 0
    for result in (first, sent, to_stdout):
        no_traceback(result)


@pytest.mark.slow  # sits out a stopped server or the retries of a lost one
def test_a_process_of_its_own_ends_with_the_documented_exit_status(
    tmp_path: Path, server: ChatServer
) -> None:
    home = tmp_path / "bob"
    assert run_chat_process(home, "frobnicate").rc == 2
    assert run_chat_process(home, "status").rc == 2  # not connected
    real_connect(home, server, "bob")
    wrong = run_chat_process(
        tmp_path / "other", "connect", "bob", "--server", server.url, "--password-stdin",
        stdin="not bob's",
    )  # fmt: skip
    assert (wrong.rc, wrong.err) == (1, "chat: wrong name or password\n")
    with socket.socket() as closed:  # bound, not listening: refused, and nobody else takes it
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
        gone = run_chat_process(tmp_path / "x", "connect", "x", "--server", url, "--password-stdin")
    assert gone.rc == 3
    assert f"cannot reach {url}" in gone.err
    for result in (wrong, gone):
        no_traceback(result)
