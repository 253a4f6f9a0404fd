"""The follower in-process against the fake server: paging, saved offsets, errors."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from client.api import ApiError, ChatApi
from client.follow import PAGE_EVENTS, Follower
from client.http import HttpClient, Origin
from client.models import Event, EventsPage, Status
from client.state import Session, StateStore
from tests.client.fake_chat import fake_chat_server


def test_the_follower_pages_through_a_backlog_and_saves_where_it_stopped(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        async with fake_chat_server() as (fake, server):
            origin = Origin(host="127.0.0.1", port=server.port)
            async with HttpClient(origin) as http:
                api = ChatApi(http)
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
                api = ChatApi(http)
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
