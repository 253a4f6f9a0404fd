"""The rules: `decide(state, command, now=..., config=...)` -> the events it causes.

Rules read state through `ChatState`, a narrow view the projections offer,
so each fact is folded once. They never do I/O and never read the clock:
`now` comes in as an argument. A refused command raises a DomainError.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from attrs import frozen

from domain.commands import (
    CloseSession,
    Command,
    CreateGeneral,
    MoveCursor,
    OpenSession,
    RegisterUser,
    SendMessage,
)
from domain.errors import ConflictError, NotFoundError, NotMemberError, ValidationError
from domain.events import (
    CursorMoved,
    Event,
    MemberJoined,
    MessageSent,
    RoomCreated,
    SessionClosed,
    SessionOpened,
    UserRegistered,
)
from domain.names import GENERAL, direct_room_id, name_key

Events = tuple[Event, ...]


class ChatState(Protocol):
    """What the rules need to know, answered by the projections."""

    def user_name(self, user: str) -> str | None:
        """The registered spelling of a user name (any case), None if unknown."""
        ...

    def room_kind(self, room: str) -> str | None:
        """`general`, `group` or `direct`; None for an unknown room."""
        ...

    def is_member(self, room: str, user: str) -> bool:
        """Whether the user (any spelling) is a member of the room now."""
        ...

    def session_is_open(self, session: int) -> bool:
        """Whether the session opened at this offset is still open."""
        ...

    def cursor_of(self, user: str) -> int:
        """The user's acknowledged offset (0 before any)."""
        ...


@frozen(kw_only=True)
class RulesConfig:
    """The limits the rules enforce (filled from the server settings)."""

    max_text_chars: int = 4000


def _create_general(state: ChatState, _: CreateGeneral, now: float, cfg: RulesConfig) -> Events:
    if state.room_kind(GENERAL) is not None:
        return ()
    return (RoomCreated(room=GENERAL, kind="general", name=GENERAL, members=()),)


def _register(state: ChatState, cmd: RegisterUser, now: float, cfg: RulesConfig) -> Events:
    if state.user_name(cmd.name) is not None:
        raise ConflictError(f"the name {cmd.name!r} is taken")
    return (
        UserRegistered(user=cmd.name, password_hash=cmd.password_hash),
        MemberJoined(room=GENERAL, user=cmd.name),
    )


def _open_session(state: ChatState, cmd: OpenSession, now: float, cfg: RulesConfig) -> Events:
    return (SessionOpened(user=cmd.user, token_hash=cmd.token_hash),)


def _close_session(state: ChatState, cmd: CloseSession, now: float, cfg: RulesConfig) -> Events:
    if not state.session_is_open(cmd.session):
        return ()
    return (SessionClosed(user=cmd.user, session=cmd.session),)


def _send(state: ChatState, cmd: SendMessage, now: float, cfg: RulesConfig) -> Events:
    if cmd.to is not None:
        return _send_direct(state, cmd, cmd.to)
    room = GENERAL if cmd.room is None else cmd.room
    kind = state.room_kind(room)
    # A direct room the author is not in is reported unknown, so ids do not leak.
    if kind is None or (kind == "direct" and not state.is_member(room, cmd.author)):
        raise NotFoundError(f"there is no room {room!r}")
    if not state.is_member(room, cmd.author):
        raise NotMemberError(f"you are not a member of {room!r}")
    return (
        MessageSent(
            room=room, author=cmd.author, text=cmd.text, idempotency_key=cmd.idempotency_key
        ),
    )


def _send_direct(state: ChatState, cmd: SendMessage, to: str) -> Events:
    recipient = state.user_name(to)
    if recipient is None:
        raise NotFoundError(f"there is no user {to!r}")
    if name_key(recipient) == name_key(cmd.author):
        raise ValidationError("you cannot send a direct message to yourself", field="to")
    room = direct_room_id(cmd.author, recipient)
    created: Events = ()
    if state.room_kind(room) is None:
        members = tuple(sorted((cmd.author, recipient), key=name_key))
        created = (RoomCreated(room=room, kind="direct", name=room, members=members),)
    sent = MessageSent(
        room=room, author=cmd.author, text=cmd.text, idempotency_key=cmd.idempotency_key
    )
    return (*created, sent)


def _move_cursor(state: ChatState, cmd: MoveCursor, now: float, cfg: RulesConfig) -> Events:
    if cmd.cursor <= state.cursor_of(cmd.user):
        return ()
    return (CursorMoved(user=cmd.user, cursor=cmd.cursor, session=cmd.session),)


_Decider = Callable[[ChatState, Any, float, RulesConfig], Events]

DECIDERS: dict[type[Command], _Decider] = {
    CreateGeneral: _create_general,
    RegisterUser: _register,
    OpenSession: _open_session,
    CloseSession: _close_session,
    SendMessage: _send,
    MoveCursor: _move_cursor,
}


def decide(state: ChatState, command: Command, *, now: float, config: RulesConfig) -> Events:
    """The events a command causes in this state.

    Raises DomainError (a subclass) when a rule refuses the command.
    """
    return DECIDERS[type(command)](state, command, now, config)
