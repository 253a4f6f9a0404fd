"""Identity: connect (registering on first connect), sessions, status.

A user is registered by their first `/connect`; every connect opens a
session with its own bearer token, of which the log keeps only the SHA-256.
Password hashing (scrypt) runs in a worker thread: it costs tens of
milliseconds of CPU that the event loop must not wait for.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections.abc import Callable

from app.core import Core, Cursors
from app.render import message_view, room_views
from app.views import ConnectResult, Session, SessionView, StatusResult
from domain import (
    GENERAL,
    BadCredentialsError,
    CloseSession,
    ConflictError,
    OpenSession,
    RegisterUser,
    ScryptCost,
    UnauthorizedError,
    check_password,
    check_user_name,
    hash_password,
    name_key,
    verify_password,
)

log = logging.getLogger("app.identity")


def token_hash(token: str) -> str:
    """The SHA-256 (hex) of a bearer token: all the log ever stores of it."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Identity:
    """Connect, authenticate, disconnect, status."""

    def __init__(
        self,
        core: Core,
        cursors: Cursors,
        *,
        token_factory: Callable[[], str] = lambda: secrets.token_hex(32),
        salt_factory: Callable[[], bytes] = lambda: secrets.token_bytes(16),
    ) -> None:
        self._core = core
        self._cursors = cursors
        self._new_token = token_factory
        self._new_salt = salt_factory
        self._scrypt = ScryptCost(n=core.settings.scrypt_n)

    async def connect(self, name: object, password: object) -> ConnectResult:
        """Open a session, registering the user on first connect.

        Raises ValidationError, BadCredentialsError.
        """
        core = self._core
        name = check_user_name(name)
        password = check_password(password)
        created = False
        user = core.model.users.get(name)
        if user is None:
            salt = self._new_salt()
            hashed = await asyncio.to_thread(hash_password, password, salt=salt, cost=self._scrypt)
            try:
                await core.execute([RegisterUser(name=name, password_hash=hashed)])
                created = True
            except ConflictError:
                pass  # registered by a concurrent connect: check the password below
            user = core.model.users.get(name)
            assert user is not None
        if not created and not await asyncio.to_thread(
            verify_password, password, user.password_hash
        ):
            raise BadCredentialsError("wrong name or password")
        token = self._new_token()
        await core.execute([OpenSession(user=user.name, token_hash=token_hash(token))])
        key = name_key(user.name)
        upto, now = core.durable_head, core.now()
        cursor = self._cursors.cursor_of(key)
        model = core.model
        general = model.rooms.by_id[GENERAL]
        last, _ = model.history(
            general, key, before=upto + 1, limit=core.settings.history_size, upto=upto, now=now
        )
        limit = core.settings.max_unread_on_connect
        unread = model.unread(key, cursor=cursor, upto=upto, now=now, limit=limit + 1)
        log.info("session opened user=%s new_user=%s", user.name, created)
        return ConnectResult(
            created=created,
            token=token,
            user=user.name,
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
        record = self._core.model.users.by_token.get(token_hash(token))
        if record is None or record.id > self._core.durable_head:
            raise UnauthorizedError("unknown or revoked token: connect again")
        return Session(id=record.id, user=record.user, user_key=name_key(record.user))

    async def disconnect(self, session: Session) -> None:
        """Revoke this session's token; the user's cursor is flushed first."""
        await self._cursors.flush([session.user_key])
        await self._core.execute([CloseSession(user=session.user, session=session.id)])
        log.info("session closed user=%s session=%d", session.user, session.id)

    def status(self, session: Session) -> StatusResult:
        core = self._core
        upto, now = core.durable_head, core.now()
        cursor = self._cursors.cursor_of(session.user_key)
        sessions = core.model.users.open_by_user.get(session.user_key, {})
        return StatusResult(
            user=session.user,
            log=core.log_id,
            offset=upto,
            cursor=cursor,
            rooms=room_views(core.model, session.user_key, cursor=cursor, upto=upto, now=now),
            online=tuple(core.model.online()),
            sessions=tuple(
                SessionView(id=s.id, opened_at=s.opened_at, current=s.id == session.id)
                for s in sorted(sessions.values(), key=lambda s: s.id)
            ),
        )
