"""Identity: registering, sessions (opened, closed, touched, expired)."""

from __future__ import annotations

from domain.commands import (
    CloseSession,
    Command,
    ExpireSessions,
    OpenSession,
    RegisterUser,
    TouchSession,
)
from domain.errors import (
    ConflictError,
    NotFoundError,
)
from domain.events import (
    MemberJoined,
    SessionClosed,
    SessionOpened,
    SessionTouched,
    UserRegistered,
)
from domain.names import GENERAL, name_key, name_skeleton
from domain.state import (
    ChatState,
    Decider,
    Events,
    RulesConfig,
    check_cap,
)


def _register(state: ChatState, cmd: RegisterUser, now: float, cfg: RulesConfig) -> Events:
    if state.user_name(cmd.name) is not None:
        raise ConflictError(f"the name {cmd.name!r} is taken")
    twin = state.user_with_skeleton(name_skeleton(cmd.name))
    if twin is not None:
        raise ConflictError(f"the name {cmd.name!r} looks too much like {twin!r}; choose another")
    return (
        UserRegistered(user=cmd.name, password_hash=cmd.password_hash),
        MemberJoined(room=GENERAL, user=cmd.name),
    )


def _open_session(state: ChatState, cmd: OpenSession, now: float, cfg: RulesConfig) -> Events:
    """A new session; at the cap the one used least recently makes room."""
    evicted: Events = ()
    if state.counts(cmd.user).open_sessions >= cfg.max_sessions_per_user:
        oldest = state.least_recent_session(cmd.user)
        if oldest is None:
            check_cap(cfg.max_sessions_per_user, cfg.max_sessions_per_user, "open sessions")
        else:
            evicted = (SessionClosed(user=cmd.user, session=oldest, reason="evicted"),)
    return (*evicted, SessionOpened(user=cmd.user, token_hash=cmd.token_hash))


def _close_session(state: ChatState, cmd: CloseSession, now: float, cfg: RulesConfig) -> Events:
    owner = state.session_user(cmd.session)
    if owner is None or name_key(owner) != name_key(cmd.user):
        if cmd.reason == "revoked":
            raise NotFoundError(f"you have no open session {cmd.session}")
        return ()
    return (SessionClosed(user=owner, session=cmd.session, reason=cmd.reason),)


def _touch_session(state: ChatState, cmd: TouchSession, now: float, cfg: RulesConfig) -> Events:
    owner = state.session_user(cmd.session)
    if owner is None or name_key(owner) != name_key(cmd.user):
        return ()
    return (SessionTouched(user=owner, session=cmd.session),)


def _expire_sessions(state: ChatState, cmd: ExpireSessions, now: float, cfg: RulesConfig) -> Events:
    return tuple(
        SessionClosed(user=user, session=session, reason="expired")
        for user, session in state.idle_sessions(now - cfg.session_idle_s)
    )


DECIDERS: dict[type[Command], Decider] = {
    RegisterUser: _register,
    OpenSession: _open_session,
    CloseSession: _close_session,
    TouchSession: _touch_session,
    ExpireSessions: _expire_sessions,
}
