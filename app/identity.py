"""Identity: connect (registering on first connect), sessions, status.

A user is registered by their first `/connect`; every connect opens a
session with its own bearer token, of which the log keeps only the SHA-256.
Passwords go through `PasswordGuard` (throttled before hashing, hashed on
threads of their own). Sessions: at the cap of open sessions the least
recently active one makes room; a session unused for `session_idle_s` stops
working and is closed by `maintain_forever`, which also writes, at most once
a `session_touch_interval_s`, that a used session was active.

Presence is kept in memory only, never as events: each authenticated
request (and each connect) notes when its user was last seen. A user is
online while a long poll of theirs waits, or when they were seen within
`online_window_s`; what a server knows of users seen before it started
comes from their open sessions' recorded activity (`seed_presence`).
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import logging
import secrets
from collections.abc import Callable, Iterable

from app.core import Core, Cursors
from app.errors import ServiceFailedError
from app.passwords import PasswordGuard
from app.render import message_view, room_views
from app.views import (
    ConnectResult,
    GeneralQuota,
    LastSeen,
    Limits,
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
    ExpireSessions,
    InsufficientStorageError,
    OpenSession,
    RegisterUser,
    ScryptCost,
    SessionClosed,
    TouchSession,
    UnauthorizedError,
    ValidationError,
    check_password,
    check_user_name,
    name_key,
)
from projections import SessionRecord

log = logging.getLogger("app.identity")

MAINTAIN_EVERY_S = 3600.0


def token_hash(token: str) -> str:
    """The SHA-256 (hex) of a bearer token: all the log ever stores of it."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Identity:
    """Connect, authenticate, disconnect, status, and the user's own sessions."""

    def __init__(
        self,
        core: Core,
        cursors: Cursors,
        *,
        token_factory: Callable[[], str] = lambda: secrets.token_hex(32),
        salt_factory: Callable[[], bytes] = lambda: secrets.token_bytes(16),
        polling: Callable[[str], bool] = lambda user_key: False,
    ) -> None:
        self._core = core
        self._cursors = cursors
        self._polling = polling  # whether a long poll of the user waits now
        self._seen: dict[str, float] = {}  # user key -> last request, in memory
        self._new_token = token_factory
        self._new_salt = salt_factory
        settings = core.settings
        self.passwords = PasswordGuard(
            ScryptCost(n=settings.scrypt_n),
            core.now,
            registrations=settings.budget_registrations,
        )
        self._used: dict[int, float] = {}  # session -> when it was last used, in memory

    async def connect(
        self, name: object, password: object, *, address: str | None = None
    ) -> ConnectResult:
        """Open a session, registering the user on first connect.

        `address` is the client's network address (for throttling).
        Raises ValidationError, BadCredentialsError, RateLimitedError (too
        many wrong passwords for the name or from the address, or too many
        new accounts from the address), UnavailableError (too busy hashing).
        """
        core = self._core
        name = check_user_name(name)
        password = check_password(password)
        key = name_key(name)
        self.passwords.check_name(key)
        self.passwords.check_address(address)
        created = False
        user = core.model.users.get(name)
        if user is None:
            minimum = core.settings.min_password_length
            if len(password) < minimum:
                raise ValidationError(
                    f"a new account's password has at least {minimum} characters",
                    field="password",
                )
            self.passwords.register_from(address)
            hashed = await self.passwords.hash(password, self._new_salt())
            try:
                await core.execute([RegisterUser(name=name, password_hash=hashed)])
                created = True
            except ConflictError:
                if core.model.users.get(name) is None:
                    raise  # a look-alike of another name, not a concurrent connect
            user = core.model.users.get(name)
            assert user is not None
        if not created and not await self.passwords.verify(password, user.password_hash):
            self.passwords.wrong(key, address)
            raise BadCredentialsError("wrong name or password")
        self.passwords.right(key)
        token = self._new_token()
        commands: list[Command] = []
        open_sessions = core.model.users.open_by_user.get(key, {})
        if len(open_sessions) >= core.settings.max_sessions_per_user:
            # One will make room: let the rules know which ones were used lately.
            commands += self._touches(open_sessions.values(), every_s=0.0)
        commands.append(OpenSession(user=user.name, token_hash=token_hash(token)))
        await core.execute(commands)
        self._seen[key] = core.now()
        return self._welcome(user.name, token, created)

    def _welcome(self, user: str, token: str, created: bool) -> ConnectResult:
        core = self._core
        key = name_key(user)
        upto, now = core.durable_head, core.now()
        cursor = self._cursors.cursor_of(key)
        model = core.model
        general = model.rooms.by_id[GENERAL]
        last, _ = model.history(
            general, key, before=upto + 1, limit=core.settings.history_size, upto=upto, now=now
        )
        limit = core.settings.max_unread_on_connect
        unread = model.unread(key, cursor=cursor, upto=upto, now=now, limit=limit + 1)
        log.info("session opened user=%s new_user=%s", user, created)
        return ConnectResult(
            created=created,
            token=token,
            user=user,
            log=core.log_id,
            offset=upto,
            cursor=cursor,
            general=tuple(message_view(m) for m in reversed(last)),
            unread=tuple(message_view(m) for m in unread[:limit]),
            unread_truncated=len(unread) > limit,
            rooms=room_views(model, key, cursor=cursor, upto=upto, now=now),
        )

    def authenticate(self, token: str | None) -> Session:
        """The session a bearer token opened. Raises UnauthorizedError."""
        if not token:
            raise UnauthorizedError("missing bearer token: connect first (POST /connect)")
        core = self._core
        record = core.model.users.by_token.get(token_hash(token))
        if record is None or record.id > core.durable_head:
            raise UnauthorizedError("unknown or revoked token: connect again")
        now = core.now()
        last = max(record.last_active, self._used.get(record.id, 0.0))
        if now - last > core.settings.session_idle_s:
            raise UnauthorizedError("this session expired unused: connect again")
        self._used[record.id] = now
        key = name_key(record.user)
        self._seen[key] = now
        return Session(id=record.id, user=record.user, user_key=key)

    async def disconnect(self, session: Session) -> None:
        """Revoke this session's token; the user's cursor is flushed first."""
        await self._cursors.flush([session.user_key])
        await self._core.execute([CloseSession(user=session.user, session=session.id)])
        self._used.pop(session.id, None)
        log.info("session closed user=%s session=%d", session.user, session.id)

    def sessions(self, session: Session) -> tuple[SessionView, ...]:
        """The caller's open sessions, oldest first."""
        core = self._core
        mine = core.model.users.open_by_user.get(session.user_key, {})
        return tuple(
            SessionView(
                id=s.id,
                opened_at=s.opened_at,
                current=s.id == session.id,
                last_active=max(s.last_active, self._used.get(s.id, 0.0)),
            )
            for s in sorted(mine.values(), key=lambda s: s.id)
            if s.id <= core.durable_head
        )

    async def revoke(self, session: Session, other: int) -> None:
        """End one of the caller's sessions (this one too). Raises NotFoundError."""
        await self._core.execute([CloseSession(user=session.user, session=other, reason="revoked")])
        self._used.pop(other, None)

    def status(self, session: Session) -> StatusResult:
        """Who the caller is, their rooms, who is online, and what they may still send."""
        core = self._core
        upto, now = core.durable_head, core.now()
        cursor = self._cursors.cursor_of(session.user_key)
        until = core.model.banned_until(session.user)
        settings = core.settings
        return StatusResult(
            user=session.user,
            log=core.log_id,
            offset=upto,
            cursor=cursor,
            rooms=room_views(core.model, session.user_key, cursor=cursor, upto=upto, now=now),
            online=self.online(),
            sessions=self.sessions(session),
            last_seen=self.last_seen(settings.last_seen_listed),
            banned_until=until if until is not None and until > now else None,
            general=self._general_quota(session, now),
            limits=Limits(
                max_text_length=settings.max_text_length, max_file_bytes=settings.max_file_bytes
            ),
        )

    def _general_quota(self, session: Session, now: float) -> GeneralQuota:
        settings = self._core.settings
        window = self._core.model.general_window(session.user)
        if window is None or now >= window[0] + settings.rate_window_s:
            return GeneralQuota(
                limit=settings.rate_limit, remaining=settings.rate_limit, resets_at=None
            )
        start, count = window
        return GeneralQuota(
            limit=settings.rate_limit,
            remaining=max(0, settings.rate_limit - count),
            resets_at=start + settings.rate_window_s,
        )

    # -- presence: in memory ----------------------------------------------------------

    def seed_presence(self) -> None:
        """Take what the open sessions recorded as the users' last activity (at start)."""
        for session in self._core.model.users.by_id.values():
            key = name_key(session.user)
            self._seen[key] = max(self._seen.get(key, 0.0), session.last_active)

    def online(self) -> tuple[str, ...]:
        """The signed-in users with a poll waiting or seen within `online_window_s`, by name.

        A user whose last session was closed (`chat disconnect`) is offline at once.
        """
        core = self._core
        since = core.now() - core.settings.online_window_s
        users, signed_in = core.model.users.by_key, core.model.users.open_by_user
        keys = [
            k
            for k, ts in self._seen.items()
            if (ts >= since or self._polling(k)) and k in users and k in signed_in
        ]
        return tuple(users[k].name for k in sorted(keys))

    def last_seen(self, most: int) -> tuple[LastSeen, ...]:
        """When users were last seen, the most recent first (at most `most` of them)."""
        users = self._core.model.users.by_key
        recent = heapq.nlargest(most, self._seen.items(), key=lambda item: item[1])
        return tuple(LastSeen(name=users[k].name, ts=ts) for k, ts in recent if k in users)

    async def maintain(self) -> None:
        """Write that used sessions were active (once a touch interval), close idle ones."""
        core = self._core
        for session_id in list(self._used):
            if session_id not in core.model.users.by_id:
                del self._used[session_id]
        sessions = core.model.users.by_id.values()
        commands = self._touches(sessions, every_s=core.settings.session_touch_interval_s)
        commands.append(ExpireSessions())
        entries = await core.execute(commands)
        expired = sum(1 for _, _, e in entries if isinstance(e, SessionClosed))
        if expired:
            log.info("idle sessions closed count=%d", expired)
        self.passwords.forget_idle()

    def _touches(self, sessions: Iterable[SessionRecord], *, every_s: float) -> list[Command]:
        """Touch the sessions used at least `every_s` after their last recorded activity."""
        touches: list[Command] = []
        for record in sessions:
            used = self._used.get(record.id)
            if (
                used is not None
                and used > record.last_active
                and used - record.last_active >= every_s
            ):
                touches.append(TouchSession(user=record.user, session=record.id))
        return touches

    async def maintain_forever(self) -> None:
        """`maintain` every MAINTAIN_EVERY_S; cancel to stop."""
        while True:
            await asyncio.sleep(MAINTAIN_EVERY_S)
            try:
                await self.maintain()
            except InsufficientStorageError:
                log.warning("sessions are not maintained for now: the disk is full")
            except ServiceFailedError:
                return  # the log failed: the server is stopping

    def close(self) -> None:
        self.passwords.close()
