"""Interactive mode through a pseudo-terminal (pexpect) against a real `chat-server`."""

from __future__ import annotations

import io
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from tests.client.real_server import ChatServer, connect
from tests.client.support import CHAT, chat_env, run_chat

TIMEOUT_S = 20


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[list[pexpect.spawn]]:
    children: list[pexpect.spawn] = []
    try:
        yield children
    finally:
        for child in children:
            child.close(force=True)


def start(
    home: Path, children: list[pexpect.spawn], *args: str, color: bool = False
) -> pexpect.spawn:
    """`chat` on a pseudo-terminal; without colours (NO_COLOR) unless `color`."""
    env = chat_env(home)
    env.pop("NO_COLOR", None)
    if not color:
        env["NO_COLOR"] = "1"
    child = pexpect.spawn(
        CHAT[0],
        [*CHAT[1:], *args],
        env=env,
        encoding="utf-8",
        timeout=TIMEOUT_S,
        dimensions=(40, 200),
    )
    child.logfile_read = io.StringIO()
    children.append(child)
    return child


def transcript(child: pexpect.spawn) -> str:
    log = child.logfile_read
    assert isinstance(log, io.StringIO)
    return log.getvalue()


def test_interactive_session(
    tmp_path: Path, server: ChatServer, spawn: list[pexpect.spawn]
) -> None:
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    connect(bob, server, "bob")
    assert run_chat(bob, "send", "old news").rc == 0
    connect(alice, server, "alice")
    assert run_chat(bob, "send", "--to", "alice", "unread dm").rc == 0

    child = start(alice, spawn)
    child.expect_exact("-- last messages in general --")
    child.expect_exact("bob: old news")
    child.expect_exact("-- new since last time --")
    child.expect_exact("[@bob] bob: unread dm")
    child.expect_exact("[general] ")

    child.sendline("hello from the terminal")
    child.expect(r"\d\d:\d\d #\d+ \[general\] alice: hello from the terminal")

    # A message from another client arrives while the prompt is open.
    assert run_chat(bob, "send", "ping from bob").rc == 0
    child.expect_exact("[general] bob: ping from bob")
    # The user's own messages from another client appear too.
    connect(tmp_path / "alice2", server, "alice")
    assert run_chat(tmp_path / "alice2", "send", "--to", "bob", "from my phone").rc == 0
    child.expect_exact("[@bob] alice: from my phone")

    child.sendline("/msg bob private hello")
    child.expect_exact("[@bob] alice: private hello")
    child.sendline("/who")
    child.expect(r"online: alice, bob")
    child.sendline("/rooms")
    child.expect_exact("@bob (dm:alice:bob)  direct")
    child.sendline("/room @bob")
    child.expect_exact("now in @bob")
    child.expect_exact("[@bob] ")
    child.sendline("in the dm room")
    child.expect_exact("[@bob] alice: in the dm room")
    child.sendline("/room nowhere")
    child.expect_exact("none of your rooms is called 'nowhere'")
    child.sendline("/room @carol")
    child.expect_exact("(/msg carol <text> starts a conversation)")
    child.sendline("/history 2")
    child.expect_exact("alice: private hello")
    child.sendline("/status")
    child.expect_exact("alice on http://")
    child.sendline("/bogus")
    child.expect_exact("unknown command /bogus")
    child.sendline("/help")
    child.expect_exact("/quit")
    child.sendline("/quit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert "Traceback" not in transcript(child)

    dm = run_chat(bob, "history", "--to", "alice", "--json").json_lines()[0]["messages"]
    assert [m["text"] for m in dm][:2] == ["in the dm room", "private hello"]


def test_interactive_without_a_session_says_how_to_connect(
    tmp_path: Path, spawn: list[pexpect.spawn]
) -> None:
    child = start(tmp_path, spawn)
    child.expect_exact("run `chat connect NAME [--server URL]` first")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 2


def test_interactive_resumes_where_it_left_off(
    tmp_path: Path, server: ChatServer, spawn: list[pexpect.spawn]
) -> None:
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    connect(alice, server, "alice")
    connect(bob, server, "bob")
    child = start(alice, spawn)
    child.expect_exact("[general] ")
    assert run_chat(bob, "send", "first").rc == 0
    child.expect_exact("bob: first")
    child.sendeof()  # Ctrl-D leaves like /quit
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert run_chat(bob, "send", "second").rc == 0

    again = start(alice, spawn)
    again.expect_exact("-- new since last time --")
    again.expect_exact("bob: second")
    again.sendline("/quit")
    again.expect(pexpect.EOF)
    # "first" is history now (above the marker), never shown again as new.
    seen, new = transcript(again).split("-- new since last time --")
    assert "bob: first" in seen
    assert "bob: first" not in new
    assert new.count("bob: second") == 1


@pytest.mark.slow  # sits out a stopped server or the retries of a lost one
def test_nothing_typed_is_lost_while_the_server_is_down(
    tmp_path: Path, server: ChatServer, spawn: list[pexpect.spawn]
) -> None:
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    connect(alice, server, "alice")
    connect(bob, server, "bob")
    child = start(alice, spawn)
    child.expect_exact("[general] ")

    server.stop()
    child.sendline("typed while down")
    child.expect_exact("retrying in")
    server.start()
    child.expect_exact("[general] alice: typed while down")

    server.stop()
    child.sendline("typed, then left")
    child.sendline("/quit")
    child.expect_exact("sending what you typed before leaving")
    server.start()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0

    history = run_chat(bob, "history", "--json").json_lines()[0]["messages"]
    assert [m["text"] for m in history] == ["typed, then left", "typed while down"]


@pytest.mark.slow  # sits out a stopped server or the retries of a lost one
def test_interactive_starts_while_the_server_is_down(
    tmp_path: Path, server: ChatServer, spawn: list[pexpect.spawn]
) -> None:
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    connect(alice, server, "alice")
    connect(bob, server, "bob")
    server.stop()
    child = start(alice, spawn)
    child.expect_exact("-- cannot show general now: cannot reach")
    child.expect_exact("[general] ")
    child.sendline("queued before the server came up")
    server.start()
    child.expect_exact("connection is back")
    child.expect_exact("[general] alice: queued before the server came up")
    assert run_chat(bob, "send", "welcome back").rc == 0
    child.expect_exact("[general] bob: welcome back")
    child.sendline("/quit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_connect_asks_for_the_password_without_echo(
    tmp_path: Path, server: ChatServer, spawn: list[pexpect.spawn]
) -> None:
    child = start(tmp_path, spawn, "connect", "carol", "--server", server.url)
    child.expect_exact("password for carol: ")
    child.sendline("s3cret-words")
    child.expect_exact("registered and connected")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert "s3cret-words" not in transcript(child)
    again = start(tmp_path / "other", spawn, "connect", "carol", "--server", server.url)
    again.expect_exact("password for carol: ")
    again.sendline("wrong")
    again.expect(pexpect.EOF)
    again.close()
    assert again.exitstatus == 1
    assert transcript(again).strip().splitlines()[-1].startswith("chat: ")


def test_a_half_typed_line_survives_an_incoming_message(
    tmp_path: Path, server: ChatServer, spawn: list[pexpect.spawn]
) -> None:
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    connect(alice, server, "alice")
    connect(bob, server, "bob")
    child = start(alice, spawn)
    child.expect_exact("-- new since last time --")
    child.send("half a li")
    child.expect_exact("[general] half a li")
    assert run_chat(bob, "send", "interrupting").rc == 0
    # The message goes above; the typed text is drawn again after the prompt.
    child.expect_exact("bob: interrupting")
    child.expect_exact("[general] half a li")
    child.send("nx\x7fe\r")
    child.expect_exact("[general] alice: half a line")
    child.send("\x04")  # Ctrl-D on an empty line leaves
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_the_terminal_settings_are_restored_on_exit(
    tmp_path: Path, server: ChatServer, spawn: list[pexpect.spawn]
) -> None:
    connect(tmp_path, server, "alice")
    command = " ".join(shlex.quote(part) for part in CHAT)
    child = pexpect.spawn(
        "sh", ["-c", f"{command}; echo exit=$?; stty -a"],
        env=chat_env(tmp_path), encoding="utf-8", timeout=TIMEOUT_S,
    )  # fmt: skip
    spawn.append(child)
    child.expect_exact("[general] ")
    child.sendline("/quit")
    child.expect_exact("exit=0")
    child.expect(pexpect.EOF)
    settings = child.before or ""
    assert re.search(r"(?<![-\w])icanon\b", settings), settings
    assert re.search(r"(?<![-\w])echo\b", settings), settings


def test_a_session_revoked_elsewhere_ends_interactive_mode_with_the_reason(
    tmp_path: Path, server: ChatServer, spawn: list[pexpect.spawn]
) -> None:
    connect(tmp_path, server, "alice")
    child = start(tmp_path, spawn)
    child.expect_exact("[general] ")
    assert run_chat(tmp_path, "disconnect").rc == 0  # from another terminal
    child.sendline("anyone?")
    # The sender ("not sent: ...") or the follower's next poll may meet the revoked
    # token first; either way the reason is told and interactive mode ends.
    child.expect_exact("unknown or revoked token")
    child.expect_exact("run `chat connect NAME` again")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1
    assert "Traceback" not in transcript(child)
    assert not (tmp_path / "default.json").exists()  # not written back on the way out


def test_colours_mentions_bell_completion_and_edits_at_the_prompt(
    tmp_path: Path, server: ChatServer, spawn: list[pexpect.spawn]
) -> None:
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    connect(bob, server, "bob")
    connect(alice, server, "alice")  # after bob: nothing is new when it starts
    child = start(alice, spawn, color=True)
    child.expect_exact("[general] ")

    # Tab completes a command, then a user's name.
    child.send("/hist\t")
    child.expect_exact("/history ")
    child.send("\x15")  # Ctrl-U: erase it
    child.send("hello @bo\t")
    child.expect_exact("hello @bob ")
    child.send("\r")
    child.expect(r"\x1b\[1malice\x1b\[0m: hello \x1b\[1m@bob\x1b\[0m")  # own name in bold

    # A mention of alice from someone else: highlighted, and the bell rings.
    assert run_chat(bob, "send", "ping @alice").rc == 0
    child.expect_exact("ping \x1b[7m@alice\x1b[0m\r\n")
    child.expect_exact("\x07")
    # A direct message rings too; its room is magenta.
    assert run_chat(bob, "send", "--to", "alice", "psst").rc == 0
    child.expect(r"\x1b\[35m\[@bob\]\x1b\[0m \x1b\[[0-9;]+mbob\x1b\[0m: psst")
    child.expect_exact("\x07")

    child.sendline("/room general")
    child.expect_exact("now in general")
    child.sendline("typo hre")
    child.expect(r"#([0-9]+)\x1b\[0m \[general\] \x1b\[1malice\x1b\[0m: typo hre")
    mine = child.match[1]
    assert run_chat(bob, "send", "in between").rc == 0
    child.expect_exact("in between")
    child.sendline(f"/edit {mine} typo here")
    child.expect_exact("typo here\x1b[2m (edited)")
    child.sendline("/search typo")
    child.expect_exact("typo here")
    child.sendline("/delete last")  # the newest here is bob's: not alice's to delete
    child.expect_exact("only its author may delete")
    child.sendline(f"/delete {mine}")
    child.expect_exact(f"* message #{mine} in general was deleted")
    assert run_chat(bob, "disconnect").rc == 0
    child.sendline("/who")
    child.expect_exact("online: alice")
    child.expect_exact("last seen: bob just now")
    child.sendline("/quit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert "Traceback" not in transcript(child)
    assert "-- new since last time --" not in transcript(child)  # nothing was new


def test_no_colours_with_no_color(
    tmp_path: Path, server: ChatServer, spawn: list[pexpect.spawn]
) -> None:
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    connect(alice, server, "alice")
    connect(bob, server, "bob")
    child = start(alice, spawn)  # NO_COLOR=1
    child.expect_exact("[general] ")
    assert run_chat(bob, "send", "ping @alice").rc == 0
    child.expect(r"#[0-9]+ \[general\] bob: ping @alice\r\n")
    child.sendline("/quit")
    child.expect(pexpect.EOF)
    assert "\x1b[0m" not in transcript(child)
    assert "\x1b[7m" not in transcript(child)


def _access_lines(server: ChatServer, pattern: str) -> int:
    return sum(pattern in line for line in server.log_path.read_text().splitlines())


@pytest.mark.parametrize("stream", ["yes", "no"])
def test_messages_arrive_live_on_the_stream_or_by_long_polls(
    tmp_path: Path, spawn: list[pexpect.spawn], stream: str
) -> None:
    server = ChatServer(tmp_path / "data", tmp_path / "server.log", "--event-stream", stream)
    server.start()
    try:
        alice, bob = tmp_path / "alice", tmp_path / "bob"
        connect(alice, server, "alice")
        connect(bob, server, "bob")
        polls = _access_lines(server, "GET /events ")
        child = start(alice, spawn)
        child.expect_exact("[general] ")
        for text in ("first live", "second live"):
            assert run_chat(bob, "send", text).rc == 0
            child.expect_exact(f"[general] bob: {text}")
        child.sendline("/quit")
        child.expect(pexpect.EOF)
    finally:
        server.stop()
    if stream == "yes":  # both arrived on the open stream: no long poll was answered
        assert _access_lines(server, "GET /events/stream 200 ") >= 1
        assert _access_lines(server, "GET /events ") == polls
    else:  # asked once, then long polls
        assert _access_lines(server, "GET /events/stream 404 ") == 1
        assert _access_lines(server, "GET /events ") > polls
