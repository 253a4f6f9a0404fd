"""The application service: command -> decide -> append (durable) -> apply -> notify.

How this works: a command is decided against the projections and its events
are staged in the log (`append_nowait` assigns offsets) and applied to the
projections in one synchronous step, so the next command always decides on
a state that includes every earlier one. The caller then awaits durability
(the log batches concurrent appends into one fsync) and only then answers
and wakes the long polls. Readers never see past the log's `durable_head`:
every query clips at it. If the log fails, the service fails: it refuses
everything after, and the server stops.

Time, ids and randomness come in through `clock`, `token_factory` and
`salt_factory`, so tests control them.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import logging
import secrets
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from app.blobs import BlobStore
from app.errors import ServiceFailedError, StartupError
from app.files import FilesFeature
from app.inputs import check_idempotency_key, check_send_at, check_target
from app.polling import RECENT_EVENTS, Polling, check_limit
from app.render import message_view, room_views, scheduled_view
from app.rooms import RoomsFeature
from app.settings import Settings
from app.sync import Entry, Seen
from app.timed import ModerationFeature, ScheduleFeature
from app.views import (
    ConnectResult,
    EventsPage,
    Health,
    HistoryPage,
    MessageView,
    ScheduledView,
    Session,
    SessionView,
    StatusResult,
)
from domain import (
    GENERAL,
    BadCredentialsError,
    CloseSession,
    Command,
    ConflictError,
    CreateGeneral,
    EventDecodeError,
    FileRef,
    NotFoundError,
    NotMemberError,
    OpenSession,
    RegisterUser,
    RulesConfig,
    ScheduleMessage,
    ScryptCost,
    SendMessage,
    UnauthorizedError,
    ValidationError,
    check_password,
    check_text,
    check_user_name,
    decide,
    decode,
    encode,
    hash_password,
    name_key,
    verify_password,
)
from eventstore import EventLog, EventStoreError, NewRecord, PendingAppend
from projections import ChatView, RoomRecord

log = logging.getLogger("app.service")

Clock = Callable[[], float]
REPLAY_PROGRESS_EVERY_S = 3.0


_LOG_FAILED = "the event log has failed; the server is stopping"


def token_hash(token: str) -> str:
    """The SHA-256 (hex) of a bearer token: all the log ever stores of it."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class ChatService:
    """One chat: the log, the projections folded from it, and the polls waiting on it."""

    def __init__(
        self,
        settings: Settings,
        event_log: EventLog,
        *,
        clock: Clock = time.time,
        token_factory: Callable[[], str] = lambda: secrets.token_hex(32),
        salt_factory: Callable[[], bytes] = lambda: secrets.token_bytes(16),
        blobs: BlobStore | None = None,
    ) -> None:
        self.settings = settings
        self._log = event_log
        self._clock = clock
        self._new_token = token_factory
        self._new_salt = salt_factory
        self.rules = RulesConfig(
            max_text_chars=settings.max_text_length,
            rate_limit=settings.rate_limit,
            rate_window_s=settings.rate_window_s,
            report_threshold=settings.report_threshold,
            ban_duration_s=settings.ban_duration_s,
            max_schedule_ahead_s=settings.max_schedule_ahead_s,
            max_sessions_per_user=settings.max_sessions_per_user,
            max_pending_scheduled_per_user=settings.max_pending_scheduled_per_user,
            max_rooms_per_owner=settings.max_rooms_per_owner,
            max_links_per_room=settings.max_links_per_room,
        )
        self._scrypt = ScryptCost(n=settings.scrypt_n)
        self.view = ChatView(ttl_s=settings.message_ttl_s, rate_window_s=settings.rate_window_s)
        self.schedule_changed = asyncio.Event()  # the timer re-arms when this is set
        self.polling = Polling(self, event_log)
        self._cursor_flusher: asyncio.Task[None] | None = None
        self._failed: BaseException | None = None
        self.failed = asyncio.Event()  # set when the log fails: the server must stop
        self.replayed_events = 0
        self.replay_s = 0.0
        self.rooms = RoomsFeature(self, token_factory=token_factory)
        self.schedule = ScheduleFeature(self)
        self.moderation = ModerationFeature(self)
        self.files = FilesFeature(self, blobs)
        self._timer: asyncio.Task[None] | None = None

    # -- life cycle ------------------------------------------------------------

    @property
    def log_id(self) -> str:
        return self._log.log_id

    def replay(self) -> int:
        """Fold the whole log into the projections; returns how many events.

        Raises StartupError naming the offset of an event this code cannot read.
        """
        started = last_report = time.monotonic()
        count = 0
        view, recent = self.view, self.polling.recent
        keep_from = self._log.head - RECENT_EVENTS  # only the newest go to `recent`
        # Replay allocates millions of objects that live as long as the process:
        # the cyclic GC would rescan them again and again (about 40% of the time).
        # Pause it, then freeze what replay built so later collections skip it.
        gc.disable()
        try:
            for record in self._log.iter_from(0):
                try:
                    event = decode(record.name, record.data)
                except EventDecodeError as exc:
                    raise StartupError(
                        f"cannot read event at offset {record.offset}: {exc}; "
                        "is this log written by a newer version? (see `chat-log dump`)"
                    ) from exc
                view.apply(record.offset, record.ts, event)
                if record.offset > keep_from:
                    recent.add(record.offset, record.ts, event, view.audience(record.offset, event))
                count += 1
                if count % 65_536 == 0 and (now := time.monotonic()) - last_report > (
                    REPLAY_PROGRESS_EVERY_S
                ):
                    last_report = now
                    log.info("replay progress events=%d head=%d", count, self._log.head)
        finally:
            gc.enable()
            gc.freeze()
        self.replayed_events, self.replay_s = count, time.monotonic() - started
        log.info(
            "replayed events=%d head=%d duration_s=%.3f log=%s",
            count,
            view.head,
            self.replay_s,
            self.log_id,
        )
        return count

    async def start(self, *, timers: bool = True) -> None:
        """Create `general` on the first start; start the cursor flusher and the delivery timer.

        With `timers=False` nothing runs in the background: a test then calls
        `flush_cursors()` and `schedule.deliver_due()` itself, deterministically.
        """
        await self.execute([CreateGeneral()])
        if timers:
            self._cursor_flusher = asyncio.create_task(self.polling.flush_forever())
            self._timer = asyncio.create_task(self.schedule.run_forever())

    def close_polls(self) -> None:
        """Answer every parked long poll now (the server is shutting down)."""
        self.polling.close()

    async def close(self) -> None:
        """Flush pending cursors and close the log."""
        self.close_polls()
        for task in (self._cursor_flusher, self._timer):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        if self._failed is None:
            try:
                await self.polling.flush()
            except ServiceFailedError:
                log.warning("cursor flush at shutdown failed: the log has failed")
        await self._log.close()

    # -- the write path -------------------------------------------------------------

    def _now(self) -> float:
        # Event times never go backwards, so expiry and windows are monotonic in the log.
        return max(self._clock(), self.view.last_ts)

    def now(self) -> float:
        """The service clock (what queries measure expiry against)."""
        return self._clock()

    @property
    def durable_head(self) -> int:
        """The highest offset readers may see."""
        return self._log.durable_head

    @property
    def next_offset(self) -> int:
        """The offset the next staged event will get (stable until the next `await`)."""
        return self._log.head + 1

    def _stage(self, command: Command) -> tuple[list[Seen], PendingAppend | None]:
        """Decide a command and stage its events; no await, so state stays consistent."""
        if self._failed is not None:
            raise ServiceFailedError(_LOG_FAILED)
        now = self._now()
        events = decide(self.view, command, now=now, config=self.rules)
        if not events:
            return [], None
        pending = self._log.append_nowait(
            [NewRecord(ts=now, name=name, data=data) for name, data in map(encode, events)]
        )
        staged: list[Seen] = []
        for record, event in zip(pending.records, events, strict=True):
            self.view.apply(record.offset, now, event)
            audience = self.view.audience(record.offset, event)
            self.polling.recent.add(record.offset, now, event, audience)
            staged.append((record.offset, now, event, audience))
        return staged, pending

    async def execute(self, commands: Sequence[Command]) -> list[Entry]:
        """Stage commands in order, await durability, wake the polls that care."""
        seen: list[Seen] = []
        last: PendingAppend | None = None
        for command in commands:
            staged, pending = self._stage(command)
            seen.extend(staged)
            last = pending or last
        if last is not None:
            await self._durable(last)
            self.polling.notify(seen)
        return [(offset, ts, event) for offset, ts, event, _ in seen]

    async def _durable(self, pending: PendingAppend) -> None:
        try:
            await pending.wait_durable()
        except EventStoreError as exc:
            self._fail(exc)
            raise ServiceFailedError(_LOG_FAILED) from exc

    def _fail(self, exc: BaseException) -> None:
        if self._failed is None:
            log.critical("event log failed, stopping: %s", exc)
            self._failed = exc
            self.failed.set()

    async def until_durable(self, offset: int) -> None:
        """Wait until `offset` is durable (it was staged by another request)."""
        while self._log.durable_head < offset:
            if self._failed is not None:
                raise ServiceFailedError(_LOG_FAILED)
            await asyncio.sleep(0.001)

    # -- identity and sessions ----------------------------------------------------

    async def connect(self, name: object, password: object) -> ConnectResult:
        """Open a session, registering the user on first connect.

        Raises ValidationError, BadCredentialsError.
        """
        name = check_user_name(name)
        password = check_password(password)
        created = False
        user = self.view.users.get(name)
        if user is None:
            salt = self._new_salt()
            hashed = await asyncio.to_thread(hash_password, password, salt=salt, cost=self._scrypt)
            try:
                await self.execute([RegisterUser(name=name, password_hash=hashed)])
                created = True
            except ConflictError:
                pass  # registered by a concurrent connect: check the password below
            user = self.view.users.get(name)
            assert user is not None
        if not created and not await asyncio.to_thread(
            verify_password, password, user.password_hash
        ):
            raise BadCredentialsError("wrong name or password")
        token = self._new_token()
        await self.execute([OpenSession(user=user.name, token_hash=token_hash(token))])
        key = name_key(user.name)
        upto, now = self._log.durable_head, self._clock()
        cursor = self.cursor_of(key)
        general = self.view.rooms.by_id[GENERAL]
        last, _ = self.view.history(
            general, key, before=upto + 1, limit=self.settings.history_size, upto=upto, now=now
        )
        limit = self.settings.max_unread_on_connect
        unread = self.view.unread(key, cursor=cursor, upto=upto, now=now, limit=limit + 1)
        log.info("session opened user=%s new_user=%s", user.name, created)
        return ConnectResult(
            created=created,
            token=token,
            user=user.name,
            log=self.log_id,
            offset=upto,
            cursor=cursor,
            general=tuple(message_view(m) for m in reversed(last)),
            unread=tuple(message_view(m) for m in unread[:limit]),
            unread_truncated=len(unread) > limit,
            rooms=room_views(self.view, key, cursor=cursor, upto=upto, now=now),
        )

    def authenticate(self, token: str | None) -> Session:
        """The session a bearer token opened. Raises UnauthorizedError."""
        if not token:
            raise UnauthorizedError("missing bearer token: connect first (POST /connect)")
        record = self.view.users.by_token.get(token_hash(token))
        if record is None or record.id > self._log.durable_head:
            raise UnauthorizedError("unknown or revoked token: connect again")
        return Session(id=record.id, user=record.user, user_key=name_key(record.user))

    async def disconnect(self, session: Session) -> None:
        """Revoke this session's token; the user's cursor is flushed first."""
        if session.user_key in self.polling.pending_cursors:
            await self.polling.flush([session.user_key])
        await self.execute([CloseSession(user=session.user, session=session.id)])
        log.info("session closed user=%s session=%d", session.user, session.id)

    def status(self, session: Session) -> StatusResult:
        upto, now = self._log.durable_head, self._clock()
        cursor = self.cursor_of(session.user_key)
        sessions = self.view.users.open_by_user.get(session.user_key, {})
        return StatusResult(
            user=session.user,
            log=self.log_id,
            offset=upto,
            cursor=cursor,
            rooms=room_views(self.view, session.user_key, cursor=cursor, upto=upto, now=now),
            online=tuple(self.view.online()),
            sessions=tuple(
                SessionView(id=s.id, opened_at=s.opened_at, current=s.id == session.id)
                for s in sorted(sessions.values(), key=lambda s: s.id)
            ),
        )

    def health(self) -> Health:
        return Health(offset=self._log.durable_head, log=self.log_id)

    # -- messages -------------------------------------------------------------------

    async def send(
        self,
        session: Session,
        *,
        text: object,
        room: object = None,
        to: object = None,
        send_at: object = None,
        idempotency_key: str | None = None,
        file: FileRef | None = None,
    ) -> MessageView | ScheduledView:
        """Send a message to a room (default `general`) or to a user, now or at `send_at`.

        A `send_at` in the future schedules the message (a ScheduledView comes
        back); one in the past or now sends at once. Raises ValidationError,
        NotFoundError, NotMemberError, BannedError, RateLimitedError.
        """
        text = check_text(text, max_chars=self.settings.max_text_length)
        room, to = check_target(room, to)
        at = None if send_at is None else check_send_at(send_at)
        if idempotency_key is not None:
            earlier = await self.earlier_result(session, idempotency_key)
            if earlier is not None:
                return earlier
        if at is not None and at > self._now():
            if file is not None:
                raise ValidationError("files are sent at once, not scheduled", field="send_at")
            entries = await self.execute(
                [
                    ScheduleMessage(
                        author=session.user,
                        text=text,
                        send_at=at,
                        room=room,
                        to=to,
                        idempotency_key=idempotency_key,
                    )
                ]
            )
            self.schedule_changed.set()
            return scheduled_view(self.view.schedule.by_id[entries[-1][0]])
        command = SendMessage(
            author=session.user,
            text=text,
            room=room,
            to=to,
            idempotency_key=idempotency_key,
            file=file,
        )
        entries = await self.execute([command])
        offset = entries[-1][0]
        return message_view(self.view.timeline.messages[offset])

    async def earlier_result(
        self, session: Session, idempotency_key: str
    ) -> MessageView | ScheduledView | None:
        """What a send with this key from this user gave before, once durable.

        Raises ValidationError for a malformed key.
        """
        check_idempotency_key(idempotency_key)
        key = (session.user_key, idempotency_key)
        earlier = self.view.timeline.by_key.get(key)
        if earlier is not None:
            await self.until_durable(earlier)
            return message_view(self.view.timeline.messages[earlier])
        scheduled = self.view.schedule.by_key.get(key)
        if scheduled is not None:
            await self.until_durable(scheduled)
            return scheduled_view(self.view.schedule.by_id[scheduled])
        return None

    def history(
        self, session: Session, room: str, *, before: int | None, limit: int | None
    ) -> HistoryPage:
        """A page of a room's history, newest first.

        Raises NotFoundError, NotMemberError, ValidationError.
        """
        limit = check_limit(
            limit, self.settings.history_limit_default, self.settings.history_limit_max
        )
        if before is not None and before < 1:
            raise ValidationError("before must be a positive message id", field="before")
        record = self.member_room(session, room)
        upto = self._log.durable_head
        page, more = self.view.history(
            record,
            session.user_key,
            before=upto + 1 if before is None else before,
            limit=limit,
            upto=upto,
            now=self._clock(),
        )
        messages = tuple(message_view(m) for m in page)
        return HistoryPage(messages=messages, next_before=messages[-1].id if more else None)

    def member_room(self, session: Session, room: str) -> RoomRecord:
        record = self.view.rooms.by_id.get(room)
        member = record is not None and session.user_key in record.members
        if record is None or (record.kind == "direct" and not member):
            raise NotFoundError(f"there is no room {room!r}")
        if not member:
            raise NotMemberError(f"you are not a member of {room!r}")
        return record

    # -- synchronisation (see app.polling) ----------------------------------------------

    def poll(
        self,
        session: Session,
        *,
        after: int,
        timeout_s: float | None = None,
        limit: int | None = None,
        log_id: str | None = None,
    ) -> Coroutine[Any, Any, EventsPage]:
        """Events after `after` the user may see, waiting up to `timeout_s` for some.

        Passing `after` acknowledges everything up to it for the user.
        Raises LogMismatchError, OffsetOutOfRangeError, ValidationError.
        (The polling coroutine itself, not a wrapper: a parked poll keeps one
        frame less in memory.)
        """
        return self.polling.poll(
            session, after=after, timeout_s=timeout_s, limit=limit, log_id=log_id
        )

    def cursor_of(self, user_key: str) -> int:
        """The user's acknowledged offset, including what is not yet persisted."""
        return self.polling.cursor_of(user_key)

    async def flush_cursors(self) -> None:
        """Persist every pending cursor now (what the timer does each interval)."""
        await self.polling.flush()
