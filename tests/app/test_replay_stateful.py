"""Stateful property: whatever users do, replaying the log rebuilds the same state.

Hypothesis drives random connects, sends, direct messages, polls, disconnects,
cursor flushes, scheduled messages, reports, group rooms (invitations, links,
decisions, leaving), comments and clock jumps against a service on a real
file log. At the
end the service is closed; the state after live processing must equal the
state after opening the file again and replaying it, and the state after
replaying it in two halves.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from app import ChatService, Session
from domain import DomainError, decode
from eventstore import FileEventLog
from projections import ReadModel, fold
from tests.app.support import FakeClock, counter_tokens
from tests.blackbox.support import fast_settings

USERS = ["ann", "Bob", "carl", "Дина"]
texts = st.text(min_size=1, max_size=20).filter(lambda t: t.strip() != "")


class ChatMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.tmp = Path(tempfile.mkdtemp(prefix="chat-replay-"))
        self.settings = fast_settings(
            self.tmp,
            message_ttl_s=100.0,
            rate_limit=3,
            rate_window_s=60.0,
            report_threshold=2,
            ban_duration_s=50.0,
        )
        self.clock = FakeClock()
        self.sessions: list[Session] = []
        self.service: ChatService | None = None

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    @initialize()
    def start(self) -> None:
        self.service = self.run(self._open())

    async def _open(self, *, start: bool = True) -> ChatService:
        log = await FileEventLog.open(self.tmp / "events.log", fsync=self.settings.fsync)
        service = ChatService(
            self.settings,
            log,
            clock=self.clock,
            token_factory=counter_tokens(),
            salt_factory=lambda: b"s" * 16,
        )
        service.replay()
        if start:
            await service.start(timers=False)  # the machine runs them, deterministically
        return service

    @property
    def chat(self) -> ChatService:
        assert self.service is not None
        return self.service

    @rule(user=st.sampled_from(USERS), wrong=st.booleans())
    def connect(self, user: str, wrong: bool) -> None:
        try:
            result = self.run(self.chat.identity.connect(user, "bad" if wrong else "pw"))
        except DomainError:
            return
        self.sessions.append(self.chat.identity.authenticate(result.token))

    @precondition(lambda self: self.sessions)
    @rule(data=st.data(), text=texts, key=st.none() | st.sampled_from(["k1", "k2"]))
    def send_general(self, data: st.DataObject, text: str, key: str | None) -> None:
        session = data.draw(st.sampled_from(self.sessions))
        self._try(self.chat.messages.send(session, text=text, idempotency_key=key))

    @precondition(lambda self: self.sessions)
    @rule(data=st.data(), text=texts, to=st.sampled_from([*USERS, "nobody"]))
    def send_direct(self, data: st.DataObject, text: str, to: str) -> None:
        session = data.draw(st.sampled_from(self.sessions))
        self._try(self.chat.messages.send(session, text=text, to=to))

    @precondition(lambda self: self.sessions)
    @rule(data=st.data())
    def poll(self, data: st.DataObject) -> None:
        session = data.draw(st.sampled_from(self.sessions))
        after = data.draw(st.integers(0, self.chat.health().offset))
        self._try(self.chat.polling.poll(session, after=after, timeout_s=0))

    @precondition(lambda self: self.sessions)
    @rule(data=st.data())
    def disconnect(self, data: st.DataObject) -> None:
        session = data.draw(st.sampled_from(self.sessions))
        self.sessions.remove(session)
        self._try(self.chat.identity.disconnect(session))

    @precondition(lambda self: self.sessions)
    @rule(data=st.data(), text=texts, ahead=st.sampled_from([-5.0, 20.0, 150.0]))
    def schedule(self, data: st.DataObject, text: str, ahead: float) -> None:
        session = data.draw(st.sampled_from(self.sessions))
        room = data.draw(st.sampled_from([None, *self.chat.core.model.rooms.by_id]))
        send_at = self.clock.now + ahead
        self._try(self.chat.messages.send(session, text=text, room=room, send_at=send_at))

    @precondition(lambda self: self.sessions and self.chat.core.model.schedule.pending)
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        session = data.draw(st.sampled_from(self.sessions))
        scheduled = data.draw(st.sampled_from(sorted(self.chat.core.model.schedule.by_id)))
        self._try(self.chat.schedule.cancel(session, scheduled))

    @rule()
    def deliver_due(self) -> None:
        self.run(self.chat.schedule.deliver_due())

    @precondition(lambda self: self.sessions)
    @rule(data=st.data(), user=st.sampled_from(USERS))
    def report(self, data: st.DataObject, user: str) -> None:
        session = data.draw(st.sampled_from(self.sessions))
        self._try(self.chat.moderation.report(session, user))

    @precondition(lambda self: self.sessions)
    @rule(data=st.data(), members=st.lists(st.sampled_from(USERS), max_size=2))
    def create_room(self, data: st.DataObject, members: list[str]) -> None:
        session = data.draw(st.sampled_from(self.sessions))
        self._try(self.chat.rooms.create(session, name="room", members=members))

    @precondition(lambda self: self.sessions and len(self.chat.core.model.rooms.by_id) > 1)
    @rule(data=st.data(), user=st.sampled_from(USERS), text=texts)
    def room_action(self, data: st.DataObject, user: str, text: str) -> None:
        session = data.draw(st.sampled_from(self.sessions))
        room = data.draw(st.sampled_from(sorted(self.chat.core.model.rooms.by_id)))
        rooms = self.chat.rooms
        action = data.draw(st.sampled_from(["invite", "leave", "link", "decide", "send"]))
        if action == "invite":
            self._try(rooms.invite(session, room, name=user))
        elif action == "leave":
            self._try(rooms.leave(session, room))
        elif action == "link":
            self._try(self._link_and_join(session, room))
        elif action == "decide":
            self._try(rooms.decide(session, room, user, approve=data.draw(st.booleans())))
        else:
            self._try(self.chat.messages.send(session, text=text, room=room))

    async def _link_and_join(self, owner: Session, room: str) -> None:
        link = await self.chat.rooms.create_link(owner, room)
        for session in self.sessions:
            with contextlib.suppress(DomainError):
                await self.chat.rooms.join(session, link.token)

    @precondition(lambda self: self.sessions and self.chat.core.model.timeline.messages)
    @rule(data=st.data(), text=texts)
    def comment(self, data: st.DataObject, text: str) -> None:
        session = data.draw(st.sampled_from(self.sessions))
        message = data.draw(st.sampled_from(sorted(self.chat.core.model.timeline.messages)))
        self._try(self.chat.messages.comment(session, message, text=text))

    @rule()
    def flush_cursors(self) -> None:
        self.run(self.chat.polling.flush())

    @rule(seconds=st.sampled_from([0.5, 30.0, 99.0, 101.0]))
    def advance_clock(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @invariant()
    def readers_never_see_past_the_durable_head(self) -> None:
        if self.service is not None:
            assert self.chat.core.model.head >= self.chat.health().offset

    def _try(self, coroutine: Any) -> None:
        with contextlib.suppress(DomainError):
            self.run(coroutine)

    def teardown(self) -> None:
        try:
            if self.service is not None:
                self.run(self.chat.close())
                live = self.chat.core.model
                replayed = self.run(self._open(start=False))  # no timer may add events
                try:
                    assert replayed.core.model == live
                finally:
                    self.run(replayed.close())
                self._check_two_halves(live)
        finally:
            self.loop.close()
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _check_two_halves(self, live: ReadModel) -> None:
        async def records() -> list[tuple[int, float, Any]]:
            log = await FileEventLog.open(self.tmp / "events.log", fsync=self.settings.fsync)
            try:
                return [(r.offset, r.ts, decode(r.name, r.data)) for r in log.iter_from(0)]
            finally:
                await log.close()

        entries = self.run(records())
        half = len(entries) // 2

        def fresh() -> ReadModel:
            return ReadModel(
                ttl_s=self.settings.message_ttl_s, rate_window_s=self.settings.rate_window_s
            )

        split = fold(fresh(), entries[:half])
        fold(split, entries[half:])
        whole = fold(fresh(), entries)
        assert split == whole
        assert whole.head == live.head
        # `general` is created by the service at start, so a view built from the
        # records alone must agree with the live one in everything.
        assert whole == live


ChatMachine.TestCase.settings = hypothesis_settings(
    max_examples=60, stateful_step_count=40, deadline=None
)
TestChatReplay = ChatMachine.TestCase
