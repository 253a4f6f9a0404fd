"""Following `/events`: the follower in-process, `chat watch` against the in-memory fake
(which can change its log id, lose events, go away and come back on the same port) and
a real `chat-server`, and how every event reads as a line.

`watch` runs in this process where nothing else runs beside it, and as a process of
its own where it must (left running while other steps go on, or stopped by a signal).
"""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from client.api import ApiError
from client.display import Display
from client.http import HttpClient, Origin
from client.identity import Status
from client.polling import PAGE_EVENTS, Event, EventsPage, Follower, PollingApi, event_line
from client.state import Session, StateStore
from client.terminal import clock
from tests.client.fake_chat import (
    LIMITS,
    FakeChat,
    fake_chat_server,
    make_router,
    polled,
    until,
)
from tests.client.fake_chat import (
    connect as fake_connect,
)
from tests.client.real_server import ChatServer, Watcher, connect, has_texts
from tests.client.strategies import messages, offsets
from tests.client.support import CHAT, chat, chat_env, chat_process, run_chat
from tests.client.test_jsonread import COMMENT, SCHEDULED
from transport.server import HttpServer


def test_the_follower_pages_through_a_backlog_and_saves_where_it_stopped(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        async with fake_chat_server() as (fake, server):
            origin = Origin(host="127.0.0.1", port=server.port)
            async with HttpClient(origin) as http:
                api = PollingApi(http)
                welcome = await api.connect("alice", "pw")
                backlog = PAGE_EVENTS * 2 + 50
                for i in range(backlog):
                    fake.append("room.member_joined", None, room="general", user=f"u{i}")
                # Invisible to alice: skipped, but `next` moves past it.
                fake.append("room.member_joined", frozenset({"zed"}), room="g1", user="zed")
                store = StateStore(tmp_path, "default")
                session = Session(
                    server=str(origin),
                    log=welcome.log,
                    token=welcome.token,
                    user="alice",
                    offset=welcome.offset,
                )
                seen: list[Event] = []

                async def collect(event: Event) -> None:
                    seen.append(event)

                notices: list[str] = []
                follower = Follower(
                    api, session, store, on_event=collect, notice=notices.append, poll_s=0.2
                )
                await follower.run(max_events=PAGE_EVENTS + 10)
                saved = store.load()
                assert saved is not None
                assert saved.offset == seen[-1].offset  # stopped inside the second page
                await Follower(
                    api, saved, store, on_event=collect, notice=notices.append, poll_s=0.2
                ).run(max_events=backlog - len(seen))
                users = [e.raw["user"] for e in seen]
                assert users == [f"u{i}" for i in range(backlog)]
                assert [e.offset for e in seen] == sorted({e.offset for e in seen})
                afters = [int(r.split("after=")[1].split("&")[0]) for r in fake.requests]
                # Page by `next`; the second follower starts where the first stopped.
                start, page = welcome.offset, PAGE_EVENTS
                assert afters == [start, start + page, start + page + 10, start + 2 * page + 10]
                # A last poll moves past the invisible event.
                final = store.load()
                assert final is not None
                follower = Follower(
                    api, final, store, on_event=collect, notice=notices.append, poll_s=0.1
                )
                with pytest.raises(TimeoutError):
                    async with asyncio.timeout(0.5):
                        await follower.run()
                final = store.load()
                assert final is not None
                assert final.offset == fake.head
                assert notices == []

    asyncio.run(scenario())


def test_a_revoked_token_stops_the_follower_with_the_servers_message(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with fake_chat_server() as (fake, server):
            origin = Origin(host="127.0.0.1", port=server.port)
            async with HttpClient(origin) as http:
                api = PollingApi(http)
                welcome = await api.connect("alice", "pw")
                fake.tokens.clear()
                session = Session(
                    server=str(origin), log=welcome.log, token=welcome.token, user="alice", offset=0
                )

                async def ignore(event: Event) -> None:
                    raise AssertionError(event)

                follower = Follower(
                    api, session, StateStore(tmp_path, "p"), on_event=ignore, notice=print
                )
                with pytest.raises(ApiError) as caught:
                    await follower.run()
                assert caught.value.code == "unauthorized"
                assert caught.value.status == 401

    asyncio.run(scenario())


class ScriptedSource:
    """Events 1..n, some invisible to the user, served in pages of `page` events."""

    def __init__(self, visible: list[bool], page: int) -> None:
        self.head = len(visible)
        self.visible = [offset for offset, seen in enumerate(visible, start=1) if seen]
        self.page = page

    async def events(
        self, after: int, *, timeout_s: float, limit: int | None = None, log: str | None = None
    ) -> EventsPage:
        assert 0 <= after <= self.head
        found = [o for o in self.visible if o > after][: self.page]
        nxt = found[-1] if len(found) == self.page else self.head
        events = [{"offset": o, "ts": 0.0, "type": "x.happened"} for o in found]
        return EventsPage.from_json({"events": events, "next": nxt, "log": "L"})

    async def status(self) -> Status:
        raise AssertionError("no resync expected")


class CheckingSink:
    """Checks at every save that no visible event at or below the saved offset was missed."""

    def __init__(self, source: ScriptedSource, delivered: list[int]) -> None:
        self.source = source
        self.delivered = delivered
        self.saved: list[int] = []

    def save(self, session: Session) -> None:
        missed = [o for o in self.source.visible if o <= session.offset and o not in self.delivered]
        assert not missed, f"saved {session.offset} but never delivered {missed}"
        assert not self.saved or session.offset >= self.saved[-1]
        self.saved.append(session.offset)


@given(
    st.lists(st.booleans(), max_size=60),
    st.integers(1, 10),
    st.lists(st.integers(1, 25), max_size=8),
)
def test_restarts_anywhere_deliver_every_visible_event_once_in_order(
    visible: list[bool], page: int, stops: list[int]
) -> None:
    source = ScriptedSource(visible, page)
    delivered: list[int] = []
    sink = CheckingSink(source, delivered)

    async def deliver(event: Event) -> None:
        delivered.append(event.offset)

    async def scenario() -> None:
        session = Session(server="http://x", log="L", token="t", user="u", offset=0)
        for stop in [*stops, len(source.visible)]:
            count = min(stop, len(source.visible) - len(delivered))
            if count == 0:
                break
            # A new follower from what was saved: a restarted client.
            start = session.at(sink.saved[-1]) if sink.saved else session
            follower = Follower(source, start, sink, on_event=deliver, notice=print)
            await follower.run(max_events=count)

    asyncio.run(scenario())
    assert delivered == source.visible


@given(st.lists(messages(), max_size=5), offsets, st.text(min_size=1))
def test_events_page_round_trip(raws: list[dict[str, Any]], nxt: int, log: str) -> None:
    events = [
        {"offset": m["id"], "ts": m["ts"], "type": "message.sent", "message": m} for m in raws
    ]
    events.append({"offset": nxt, "ts": 1.5, "type": "room.member_joined", "room": "general"})
    page = EventsPage.from_json({"events": events, "next": nxt, "log": log})
    assert page.next == nxt
    assert page.log == log
    assert [e.message.text for e in page.events if e.message] == [m["text"] for m in raws]
    assert page.events[-1].message is None
    assert page.events[-1].raw["room"] == "general"


A = Display(me="a")


def test_event_lines() -> None:
    def event(kind: str, **fields: Any) -> Event:
        return Event.from_json({"offset": 5, "ts": 0, "type": kind, **fields})

    assert event_line(event("cursor.moved", user="a", cursor=3), A) is None
    joined = event_line(event("room.member_joined", room="g4", user="carol"), A)
    assert joined == f"{clock(0)} * carol joined g4"
    me = event_line(event("room.member_joined", room="g4", user="A"), A)
    assert me == f"{clock(0)} * you joined g4: history shows its messages"
    created = event("room.created", room={"id": "g9", "name": "team", "owner": "bo"})
    assert event_line(created, A) == f"{clock(0)} * room g9 (team) created by bo"
    direct = event("room.created", room={"id": "dm:a:bo", "name": "whoever", "owner": None})
    assert event_line(direct, A) == f"{clock(0)} * room @bo created"
    # A type from a newer server than this client: named, not dropped.
    assert event_line(event("room.repainted"), A) == f"{clock(0)} * room.repainted"


def line(obj: dict[str, Any], me: str = "alice") -> str | None:
    return event_line(Event.from_json({"offset": 1, "ts": 0.0, **obj}), Display(me=me))


def test_new_events_read_as_lines() -> None:
    def text(obj: dict[str, Any], me: str = "alice") -> str:
        rendered = line(obj, me)
        assert rendered is not None
        return rendered.split(" ", 1)[1]  # after the clock

    request = {"room": "g4", "user": "carol", "status": "pending", "requested_at": 0}
    commented = text({"type": "message.commented", "comment": COMMENT})
    assert commented.endswith(f"#{COMMENT['id']} [general] re #3 bob: hi")
    assert text({"type": "room.join_requested", "request": request}) == (
        "* carol asks to join g4 (chat approve g4 carol)"
    )
    assert text({"type": "room.join_requested", "request": request}, "carol") == (
        "* you asked to join g4; its owner decides"
    )
    decided = {**request, "status": "approved"}
    assert text({"type": "room.join_decided", "request": decided}, "carol") == (
        "* your request to join g4 was approved"
    )
    assert text({"type": "room.join_decided", "request": decided}) == (
        "* carol's request to join g4 was approved"
    )
    scheduled = text({"type": "message.scheduled", "scheduled": SCHEDULED})
    assert scheduled.startswith("* scheduled #7 at ")
    assert scheduled.endswith(" to @b: t")
    assert text({"type": "message.cancelled", "scheduled": 7}) == "* scheduled message #7 cancelled"
    assert text({"type": "message.schedule_failed", "scheduled": 7, "reason": "banned"}) == (
        "* scheduled message #7 was not sent: banned"
    )
    banned = text({"type": "user.banned", "user": "alice", "until": 0})
    assert banned.startswith("* you are banned from sending until ")
    assert text({"type": "room.member_left", "room": "g4", "user": "bob"}) == "* bob left g4"


def test_damaged_new_events_still_read_as_lines() -> None:
    for kind in ("message.commented", "room.join_requested", "room.join_decided",
                 "message.scheduled", "user.banned"):  # fmt: skip
        rendered = line({"type": kind})
        assert rendered is not None
        assert "*" in rendered


def test_a_comment_cannot_carry_control_characters_to_the_terminal() -> None:
    evil = {**COMMENT, "text": "x\x1b[2Jy", "author": "b\x07"}
    rendered = line({"type": "message.commented", "comment": evil})
    assert rendered is not None
    assert "\x1b" not in rendered
    assert "\x07" not in rendered


def test_watch_resumes_from_the_stored_offset_without_duplicates(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with fake_chat_server() as (_, server):
            alice, bob = tmp_path / "alice", tmp_path / "bob"
            await fake_connect(alice, server, "alice")
            await fake_connect(bob, server, "bob")
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
            # Left waiting while bob sends: a process of its own.
            waiting = asyncio.ensure_future(chat_process(alice, "watch", "--count", "2"))
            await asyncio.sleep(0.5)
            assert not waiting.done()
            assert (await chat(bob, "send", "--to", "alice", "four")).rc == 0
            human = (await waiting).out.splitlines()
            assert [line.split(" ", 1)[1] for line in human] == [
                "* room @bob created",
                f"#{human[1].split()[1][1:]} [@bob] bob: four",
            ]

    asyncio.run(scenario())


def test_a_changed_log_or_a_lost_head_resyncs_through_status(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with fake_chat_server() as (fake, server):
            await fake_connect(tmp_path, server, "alice")
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


@pytest.mark.slow  # sits out a stopped server or the retries of a lost one
def test_watch_rides_out_a_server_restart_and_send_retries_with_one_key(tmp_path: Path) -> None:
    async def scenario() -> None:
        fake = FakeChat()
        async with fake_chat_server(fake) as (_, server):
            port = server.port
            await fake_connect(tmp_path / "alice", server, "alice")
            await fake_connect(tmp_path / "bob", server, "bob")
        # The server is gone; watch keeps trying with visible notices.
        watching = asyncio.ensure_future(  # a process of its own: bob sends meanwhile
            chat_process(tmp_path / "alice", "watch", "--json", "--count", "2", "--poll", "1")
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

    asyncio.run(scenario())


def test_interrupting_watch_exits_zero(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with fake_chat_server() as (fake, server):
            await fake_connect(tmp_path, server, "alice")
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


def test_watch_retries_when_the_server_answers_503(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with fake_chat_server() as (fake, server):
            await fake_connect(tmp_path, server, "alice")
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


@pytest.mark.slow  # sits out a stopped server or the retries of a lost one
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


def _requests(server: ChatServer, pattern: str) -> int:
    """How many requests of the access log (in the server's log) begin with `pattern`."""
    return sum(pattern in line for line in server.log_path.read_text().splitlines())


def test_watch_follows_the_event_stream_when_the_server_offers_it(
    tmp_path: Path, server: ChatServer
) -> None:
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    connect(alice, server, "alice")
    connect(bob, server, "bob")
    polls = _requests(server, "GET /events ")  # connecting asks once
    watcher = Watcher(bob)
    try:
        for text in ("one", "two", "three"):
            assert run_chat(alice, "send", text).rc == 0
        watcher.wait_for(has_texts("one", "two", "three"))
    finally:
        watcher.stop()
    assert watcher.texts() == ["one", "two", "three"]
    # Every message arrived on the open stream: no long poll was answered.
    assert _requests(server, "GET /events ") == polls
    assert _requests(server, "GET /events/stream 200 ") >= 1
    # Saved as it went: a new watch starts after "three".
    assert run_chat(alice, "send", "four").rc == 0
    again = Watcher(bob)
    try:
        again.wait_for(has_texts("four"))
    finally:
        again.stop()
    assert again.texts() == ["four"]


def test_watch_long_polls_when_the_server_offers_no_stream(tmp_path: Path) -> None:
    server = ChatServer(tmp_path / "data", tmp_path / "server.log", "--event-stream", "no")
    server.start()
    try:
        alice, bob = tmp_path / "alice", tmp_path / "bob"
        connect(alice, server, "alice")
        connect(bob, server, "bob")
        polls = _requests(server, "GET /events ")
        watcher = Watcher(bob, "--poll", "1")
        try:
            for text in ("one", "two"):
                assert run_chat(alice, "send", text).rc == 0
            watcher.wait_for(has_texts("one", "two"))
        finally:
            err = watcher.stop()
    finally:
        server.stop()
    assert watcher.texts() == ["one", "two"]
    assert _requests(server, "GET /events/stream 404 ") == 1  # asked once, then polls
    assert _requests(server, "GET /events ") > polls
    assert "retrying" not in err


def test_watch_poll_only_never_opens_the_stream(tmp_path: Path, server: ChatServer) -> None:
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    connect(alice, server, "alice")
    connect(bob, server, "bob")
    polls = _requests(server, "GET /events ")
    watcher = Watcher(bob, "--poll-only", "--poll", "1")
    try:
        assert run_chat(alice, "send", "polled").rc == 0
        watcher.wait_for(has_texts("polled"))
    finally:
        watcher.stop()
    assert _requests(server, "GET /events/stream") == 0
    assert _requests(server, "GET /events ") > polls
