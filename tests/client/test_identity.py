"""Connecting, status, profiles and disconnecting, `chat` running in this process
against the in-memory fake or a real `chat-server`."""

from __future__ import annotations

import asyncio
import json
import stat
import time
from pathlib import Path

import pytest

from client.cli import main
from tests.client.fake_chat import fake_chat_server, url
from tests.client.real_server import ChatServer, Watcher, connect, has_texts
from tests.client.support import chat, run_chat


def test_connect_send_history_status_disconnect(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with fake_chat_server() as (fake, server):
            first = await chat(
                tmp_path, "connect", "Алиса", "--server", url(server), "--password-stdin",
                stdin="secret\n",
            )  # fmt: skip
            assert first.rc == 0, first.err
            assert "registered and connected" in first.out
            state = tmp_path / "default.json"
            assert stat.S_IMODE(state.stat().st_mode) == 0o600
            saved = json.loads(state.read_text())
            assert saved["user"] == "Алиса"
            assert saved["log"] == fake.log
            assert saved["offset"] == fake.head
            assert saved["token"] in fake.tokens

            sent = await chat(tmp_path, "send", "привет,", "мир")
            assert sent.rc == 0, sent.err
            assert "[general] Алиса: привет, мир" in sent.out
            as_json = await chat(tmp_path, "--json", "send", "second")
            assert as_json.json_lines()[0]["text"] == "second"

            history = await chat(tmp_path, "history", "--limit", "5")
            lines = history.out.splitlines()
            assert [line.split("] ", 1)[1] for line in lines] == [
                "Алиса: привет, мир",
                "Алиса: second",
            ]
            assert (await chat(tmp_path, "history", "--json")).json_lines()[0]["messages"]

            status = await chat(tmp_path, "status")
            assert status.rc == 0
            assert "online: Алиса" in status.out
            rooms = await chat(tmp_path, "rooms", "--json")
            assert [r["id"] for r in rooms.json_lines()[0]["rooms"]] == ["general"]

            bye = await chat(tmp_path, "disconnect")
            assert bye.rc == 0, bye.err
            assert not state.exists()
            assert fake.tokens == {}
            again = await chat(tmp_path, "status")
            assert again.rc == 2
            assert "not connected" in again.err

    asyncio.run(scenario())


def test_the_server_url_comes_from_chat_server_and_profiles_are_separate(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with fake_chat_server() as (fake, server):
            env = {"CHAT_SERVER": url(server)}
            first = await chat(tmp_path, "connect", "ann", "--password-stdin", stdin="pw", env=env)
            assert first.rc == 0, first.err
            work = await chat(
                tmp_path, "--profile", "work", "connect", "ann", "--password-stdin",
                stdin="pw", env=env,
            )  # fmt: skip
            assert work.rc == 0, work.err
            assert sorted(p.name for p in tmp_path.iterdir()) == ["default.json", "work.json"]
            assert len(fake.tokens) == 2
            # Connecting a profile again replaces (and revokes) its old session.
            again = await chat(tmp_path, "connect", "ann", "--password-stdin", stdin="pw", env=env)
            assert again.rc == 0
            assert len(fake.tokens) == 2
            assert (await chat(tmp_path, "disconnect", "--profile", "work")).rc == 0
            assert (tmp_path / "default.json").exists()
            assert not (tmp_path / "work.json").exists()
            assert len(fake.tokens) == 1
            bad = await chat(tmp_path, "connect", "x", "--server", "ftp://nope", "--password-stdin")
            assert (bad.rc, bad.err.startswith("chat: not an http://")) == (2, True)

    asyncio.run(scenario())


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


@pytest.mark.parametrize("argv", [["status"], ["send", "hi"], ["watch"], ["disconnect"]])
def test_commands_need_a_connected_profile(
    argv: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CHAT_HOME", str(tmp_path))
    assert main(["--profile", "work", *argv]) == 2
    err = capsys.readouterr().err
    assert err == (
        "chat: profile 'work' is not connected; run `chat connect NAME [--server URL]` first\n"
    )


def test_a_broken_session_file_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CHAT_HOME", str(tmp_path))
    (tmp_path / "default.json").write_text("{not json")
    assert main(["status"]) == 1
    assert capsys.readouterr().err == f"chat: {tmp_path / 'default.json'} is not valid JSON\n"
