"""`chat` subcommands as subprocesses against the in-memory fake server.

The fake lets these tests do what the real server never does on request:
change its log id, lose events, go away and come back on the same port.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import stat
from collections.abc import Callable
from pathlib import Path

from tests.client.fake_chat import LIMITS, FakeChat, fake_chat_server, make_router
from tests.client.support import CHAT, chat, chat_env, no_traceback
from transport.server import HttpServer


async def until(condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    """Wait until `condition()` holds (the subprocess got somewhere)."""
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.02)


def polled(fake: FakeChat, since: int, part: str) -> Callable[[], bool]:
    """A condition: a poll whose target contains `part` arrived after request number `since`."""
    return lambda: any(part in target for target in fake.requests[since:])


def url(server: HttpServer) -> str:
    return f"http://127.0.0.1:{server.port}"


async def connect(home: Path, server: HttpServer, name: str, *extra: str) -> None:
    result = await chat(
        home, "connect", name, "--server", url(server), "--password-stdin", *extra, stdin="pw\n"
    )
    assert result.rc == 0, result.err


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


def test_watch_resumes_from_the_stored_offset_without_duplicates(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with fake_chat_server() as (_, server):
            alice, bob = tmp_path / "alice", tmp_path / "bob"
            await connect(alice, server, "alice")
            await connect(bob, server, "bob")
            for text in ("one", "two", "three"):
                assert (await chat(bob, "send", text)).rc == 0
            # bob's join came first; stop in the middle of a page of events.
            first = await chat(alice, "watch", "--json", "--count", "3")
            assert [e["type"] for e in first.json_lines()] == [
                "room.member_joined",
                "message.sent",
                "message.sent",
            ]
            second = await chat(alice, "watch", "--json", "--count", "1")
            assert [e["message"]["text"] for e in second.json_lines()] == ["three"]
            waiting = asyncio.ensure_future(chat(alice, "watch", "--count", "2"))
            await asyncio.sleep(0.5)
            assert not waiting.done()
            assert (await chat(bob, "send", "--to", "alice", "four")).rc == 0
            human = (await waiting).out.splitlines()
            assert [line.split(" ", 1)[1] for line in human] == [
                "* room @bob created",
                "[@bob] bob: four",
            ]

    asyncio.run(scenario())


def test_a_changed_log_or_a_lost_head_resyncs_through_status(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with fake_chat_server() as (fake, server):
            await connect(tmp_path, server, "alice")
            fake.log = "another-log"
            since = len(fake.requests)
            watching = asyncio.ensure_future(chat(tmp_path, "watch", "--json", "--count", "1"))
            # Only once it has resynchronised: events before that are skipped by design.
            await until(polled(fake, since, "log=another-log"))
            fake.append("room.member_joined", None, room="general", user="zed")
            result = await watching
            assert result.rc == 0, result.err
            assert "resynchronised at offset" in result.err
            assert result.json_lines()[0]["user"] == "zed"
            assert json.loads((tmp_path / "default.json").read_text())["log"] == "another-log"

            state = tmp_path / "default.json"
            saved = json.loads(state.read_text())
            state.write_text(json.dumps({**saved, "offset": fake.head + 50}))
            since = len(fake.requests)
            watching = asyncio.ensure_future(chat(tmp_path, "watch", "--json", "--count", "1"))
            await until(polled(fake, since, f"after={fake.head}&"))
            fake.append("room.member_joined", None, room="general", user="yan")
            result = await watching
            assert "resynchronised" in result.err
            assert result.json_lines()[0]["user"] == "yan"
            assert json.loads(state.read_text())["offset"] == fake.head

    asyncio.run(scenario())


def test_watch_rides_out_a_server_restart_and_send_retries_with_one_key(tmp_path: Path) -> None:
    async def scenario() -> None:
        fake = FakeChat()
        async with fake_chat_server(fake) as (_, server):
            port = server.port
            await connect(tmp_path / "alice", server, "alice")
            await connect(tmp_path / "bob", server, "bob")
        # The server is gone; watch keeps trying with visible notices.
        watching = asyncio.ensure_future(
            chat(tmp_path / "alice", "watch", "--json", "--count", "2", "--poll", "1")
        )
        await asyncio.sleep(1.0)
        assert not watching.done()
        async with HttpServer(make_router(fake), LIMITS) as again:
            await again.start("127.0.0.1", port)
            sent = await chat(tmp_path / "bob", "send", "back again")
            assert sent.rc == 0
            result = await asyncio.wait_for(watching, 20)
        assert result.rc == 0
        joined, message = result.json_lines()
        assert joined["user"] == "bob"
        assert message["message"]["text"] == "back again"
        assert "retrying in" in result.err
        assert "connection is back" in result.err


def test_a_send_whose_answer_was_lost_is_retried_with_the_same_key(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with fake_chat_server() as (fake, server):
            await connect(tmp_path, server, "alice")
            fake.slow_sends = 1
            result = await chat(tmp_path, "--timeout", "0.3", "send", "only once")
            assert result.rc == 0, result.err
            assert "no answer from" in result.err
            assert "alice: only once" in result.out
            assert [m["text"] for m in fake.messages("general")] == ["only once"]
            assert len(fake.sent_keys) == 1

    asyncio.run(scenario())

    asyncio.run(scenario())


def test_interrupting_watch_exits_zero(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with fake_chat_server() as (fake, server):
            await connect(tmp_path, server, "alice")
            since = len(fake.requests)  # connect acknowledges through /events too
            proc = await asyncio.create_subprocess_exec(
                *CHAT, "watch", env=chat_env(tmp_path),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            await until(polled(fake, since, "/events"))  # it is watching (signals handled)
            proc.send_signal(signal.SIGINT)
            out, err = await asyncio.wait_for(proc.communicate(), 10)
            assert proc.returncode == 0, err
            assert b"Traceback" not in err
            assert out == b""  # nothing happened while it watched

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


def test_watch_retries_when_the_server_answers_503(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with fake_chat_server() as (fake, server):
            await connect(tmp_path, server, "alice")
            fake.unavailable = 2
            watching = asyncio.ensure_future(chat(tmp_path, "watch", "--json", "--count", "1"))
            await asyncio.sleep(1.0)
            fake.append("room.member_joined", None, room="general", user="zed")
            result = await watching
            assert result.rc == 0, result.err
            assert result.json_lines()[0]["user"] == "zed"
            assert result.err.count("the server answered 503: too busy, try again") == 2
            assert "connection is back" in result.err

    asyncio.run(scenario())
