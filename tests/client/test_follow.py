"""The follower in-process against the fake server: paging, saved offsets, errors."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from client.api import ApiError, ChatApi
from client.follow import PAGE_EVENTS, Follower
from client.http import HttpClient, Origin
from client.models import Event
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
