"""Users and their sessions: who is registered, which tokens are open."""

from __future__ import annotations

from attrs import define, field

from domain import SessionClosed, SessionOpened, UserRegistered, name_key


@define(kw_only=True)
class UserRecord:
    name: str  # the spelling of the first connect
    password_hash: str
    registered_at: int  # offset of `user.registered`


@define(kw_only=True)
class SessionRecord:
    id: int  # offset of `session.opened`
    user: str
    token_hash: str
    opened_at: float


@define(kw_only=True)
class Users:
    """Registered users by name key, open sessions by token hash and by user."""

    by_key: dict[str, UserRecord] = field(factory=dict)
    by_token: dict[str, SessionRecord] = field(factory=dict)
    by_id: dict[int, SessionRecord] = field(factory=dict)
    open_by_user: dict[str, dict[int, SessionRecord]] = field(factory=dict)

    def registered(self, offset: int, event: UserRegistered) -> None:
        self.by_key[name_key(event.user)] = UserRecord(
            name=event.user, password_hash=event.password_hash, registered_at=offset
        )

    def session_opened(self, offset: int, ts: float, event: SessionOpened) -> None:
        session = SessionRecord(
            id=offset, user=event.user, token_hash=event.token_hash, opened_at=ts
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

    def get(self, user: str) -> UserRecord | None:
        return self.by_key.get(name_key(user))
