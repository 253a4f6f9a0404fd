"""Users and their sessions: who is registered, which tokens are open, who blocks whom.

A session's `last_active` is when it was opened, last moved the cursor, or
was last touched (`session.touched`, written at most once a day per session
that is used): the least recently active session makes room at the cap,
and a session idle for too long expires.
"""

from __future__ import annotations

from sys import intern

from attrs import define, field

from domain import (
    CursorMoved,
    SessionClosed,
    SessionOpened,
    SessionTouched,
    UserBlocked,
    UserRegistered,
    UserUnblocked,
    name_key,
    name_skeleton,
)


@define(kw_only=True, getstate_setstate=False)
class UserRecord:
    name: str  # the spelling of the first connect
    password_hash: str
    registered_at: int  # offset of `user.registered`
    registered_ts: float = 0.0


@define(kw_only=True, getstate_setstate=False)
class SessionRecord:
    id: int  # offset of `session.opened`
    user: str
    token_hash: str
    opened_at: float
    last_active: float = 0.0


@define(kw_only=True, getstate_setstate=False)
class Users:
    """Registered users by name key, open sessions by token hash and by user."""

    by_key: dict[str, UserRecord] = field(factory=dict)
    by_skeleton: dict[str, str] = field(factory=dict)  # name skeleton -> name key
    by_token: dict[str, SessionRecord] = field(factory=dict)
    by_id: dict[int, SessionRecord] = field(factory=dict)
    open_by_user: dict[str, dict[int, SessionRecord]] = field(factory=dict)
    blocked: dict[str, set[str]] = field(factory=dict)  # name key -> keys they block

    def registered(self, offset: int, ts: float, event: UserRegistered) -> None:
        key = name_key(event.user)
        self.by_key[key] = UserRecord(
            name=event.user,
            password_hash=event.password_hash,
            registered_at=offset,
            registered_ts=ts,
        )
        self.by_skeleton.setdefault(name_skeleton(event.user), key)

    def session_opened(self, offset: int, ts: float, event: SessionOpened) -> None:
        session = SessionRecord(
            id=offset,
            user=intern(event.user),  # one string per user, not per session
            token_hash=event.token_hash,
            opened_at=ts,
            last_active=ts,
        )
        self.by_token[event.token_hash] = session
        self.by_id[offset] = session
        self.open_by_user.setdefault(name_key(event.user), {})[offset] = session

    def session_closed(self, event: SessionClosed) -> None:
        session = self.by_id.pop(event.session, None)
        if session is None:
            return
        del self.by_token[session.token_hash]
        key = name_key(session.user)
        sessions = self.open_by_user[key]
        del sessions[session.id]
        if not sessions:
            del self.open_by_user[key]

    def active(self, session_id: int | None, ts: float) -> None:
        """A session was used at `ts` (touched, or it moved the cursor)."""
        session = None if session_id is None else self.by_id.get(session_id)
        if session is not None and ts > session.last_active:
            session.last_active = ts

    def session_touched(self, ts: float, event: SessionTouched) -> None:
        self.active(event.session, ts)

    def cursor_moved(self, ts: float, event: CursorMoved) -> None:
        self.active(event.session, ts)

    def user_blocked(self, event: UserBlocked) -> None:
        self.blocked.setdefault(name_key(event.user), set()).add(name_key(event.blocked))

    def user_unblocked(self, event: UserUnblocked) -> None:
        blocked = self.blocked.get(name_key(event.user))
        if blocked is not None:
            blocked.discard(name_key(event.blocked))
            if not blocked:
                del self.blocked[name_key(event.user)]

    def get(self, user: str) -> UserRecord | None:
        return self.by_key.get(name_key(user))
