"""Stateful property: whatever users do, replaying the log rebuilds the same state.

Hypothesis drives random connects, sends, direct messages, polls, disconnects,
cursor flushes, scheduled messages, reports, group rooms (invitations, links,
decisions, leaving), comments, edits and deletes, rooms viewed (read marks)
and searched, clock jumps, and snapshots (each followed by
the compaction of the sealed segments below it: the log rolls every few
events) against a service on a real file log. At the end the service is
closed; the live state must equal: the state a start restores (from the
snapshot written at shutdown, and with no snapshot at all), every snapshot
taken along the way with the events after it folded in, and the whole log
folded at once and in two halves, holes and all; and the search index must
be the one the held messages make.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import threading
from array import array
from pathlib import Path
from typing import Any

import attrs
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from app import ChatService, Session, open_log
from app.log_upkeep import compact_below
from app.snapshots import code_version, decode_model, encode_model
from domain import DomainError, decode
from eventstore import FileEventLog
from projections import ReadModel, SearchIndex, fold
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
        self.settings = attrs.evolve(self.settings, segment_max_bytes=512)  # rolls often
        self.clock = FakeClock()
        self.sessions: list[Session] = []
        self.service: ChatService | None = None
        self.snapshots: list[tuple[int, bytes]] = []  # (offset, payload) as taken

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    @initialize()
    def start(self) -> None:
        self.service = self.run(self._open())

    async def _open(self, *, start: bool = True) -> ChatService:
        log = await open_log(self.settings)
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

    @precondition(lambda self: self.sessions and self.chat.core.model.timeline.messages)
    @rule(data=st.data(), text=texts, delete=st.booleans())
    def edit_or_delete(self, data: st.DataObject, text: str, delete: bool) -> None:
        session = data.draw(st.sampled_from(self.sessions))
        message = data.draw(st.sampled_from(sorted(self.chat.core.model.timeline.messages)))
        if delete:
            self._try(self.chat.edits.delete(session, message))
        else:
            self._try(self.chat.edits.edit(session, message, text=text))

    @precondition(lambda self: self.sessions)
    @rule(data=st.data(), words=texts)
    def view_and_search(self, data: st.DataObject, words: str) -> None:
        session = data.draw(st.sampled_from(self.sessions))
        room = data.draw(st.sampled_from(sorted(self.chat.core.model.rooms.by_id)))
        self._try(self.chat.messages.history(session, room, before=None, limit=3))
        with contextlib.suppress(DomainError):
            self.chat.search.search(session, words, limit=2)

    @rule()
    def flush_cursors(self) -> None:
        self.run(self.chat.polling.flush())

    @precondition(lambda self: self.sessions)
    @rule(data=st.data())
    def read_up_to_the_head(self, data: st.DataObject) -> None:
        """A client that keeps up: each of these persists a cursor move (compaction's food)."""
        session = data.draw(st.sampled_from(self.sessions))
        self._try(self.chat.polling.poll(session, after=self.chat.health().offset, timeout_s=0))
        self.run(self.chat.polling.flush())

    @rule()
    def snapshot_and_compact(self) -> None:
        """What the background snapshot does (in this process: the model is not moving now)."""
        core = self.chat.core
        log = core.event_log
        assert isinstance(log, FileEventLog)
        head = log.durable_head
        payload = encode_model(core.model)
        log.snapshot_store().write(head, payload, code_version(self.settings))
        self.snapshots.append((head, payload))
        needed = array("Q", sorted(core.model.cursor_trail.needed()))
        self.run(compact_below(log, head, needed=needed, stop=threading.Event()))

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
                self.run(self.chat.close())  # writes a snapshot at the head
                live = self.chat.core.model
                rebuilt = SearchIndex()
                for record in sorted(live.timeline, key=lambda r: r.id):
                    rebuilt.add(record.id, record.text)
                assert live.timeline.index == rebuilt
                assert self._restored() == live
                shutil.rmtree(self.tmp / "events.log" / "snapshots", ignore_errors=True)
                assert self._restored() == live  # from the whole log
                self._check_snapshots_and_their_tails(live)
                self._check_two_halves(live)
        finally:
            self.loop.close()
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _restored(self) -> ReadModel:
        """The model a start restores, with no timer adding events."""
        restored = self.run(self._open(start=False))
        try:
            model: ReadModel = restored.core.model
        finally:
            restored.snapshots.offset = restored.core.durable_head  # no snapshot at close
            self.run(restored.close())
        return model

    def _entries(self) -> list[tuple[int, float, Any]]:
        async def records() -> list[tuple[int, float, Any]]:
            log = await FileEventLog.open(self.tmp / "events.log", fsync=self.settings.fsync)
            try:
                return [(r.offset, r.ts, decode(r.name, r.data)) for r in log.iter_from(0)]
            finally:
                await log.close()

        return self.run(records())  # type: ignore[no-any-return]

    def _check_snapshots_and_their_tails(self, live: ReadModel) -> None:
        entries = self._entries()
        for offset, payload in self.snapshots:
            model = decode_model(payload)
            assert model.head == offset
            assert fold(model, [e for e in entries if e[0] > offset]) == live

    def _check_two_halves(self, live: ReadModel) -> None:
        entries = self._entries()
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
