"""Messages: sending (what a send may do: `check_send`) and commenting."""

from __future__ import annotations

from domain.commands import (
    Command,
    CommentMessage,
    SendMessage,
)
from domain.errors import (
    NotFoundError,
    NotMemberError,
    RateLimitedError,
    ValidationError,
)
from domain.events import (
    MessageCommented,
    MessageSent,
    RoomCreated,
)
from domain.names import DIRECT_PREFIX, GENERAL, direct_room_id, name_key
from domain.state import (
    ChatState,
    Decider,
    Events,
    RulesConfig,
    check_not_banned,
    check_not_blocked,
    check_text_length,
    is_member,
)


def target_room(state: ChatState, author: str, room: str | None, to: str | None) -> str:
    """The room a message goes to; the direct room of `to` may not exist yet."""
    if to is not None:
        recipient = state.user_name(to)
        if recipient is None:
            raise NotFoundError(f"there is no user {to!r}")
        if name_key(recipient) == name_key(author):
            raise ValidationError("you cannot send a direct message to yourself", field="to")
        check_not_blocked(state, recipient, author, "direct messages")
        return direct_room_id(author, recipient)
    room = GENERAL if room is None else room
    kind = state.room_kind(room)
    # Private rooms the author is not in are reported unknown, so ids do not leak.
    if kind is None or (kind != GENERAL and not is_member(state, room, author)):
        if kind == "group":
            raise NotMemberError(f"you are not a member of {room!r}")
        raise NotFoundError(f"there is no room {room!r}")
    if kind == "direct":
        for key in room.removeprefix(DIRECT_PREFIX).split(":"):
            other = state.user_name(key)
            if other is not None and name_key(other) != name_key(author):
                check_not_blocked(state, other, author, "direct messages")
    return room


def _check_rate(state: ChatState, author: str, now: float, cfg: RulesConfig) -> None:
    window = state.general_window(author)
    if window is None:
        return
    start, count = window
    ends = start + cfg.rate_window_s
    if now < ends and count >= cfg.rate_limit:
        raise RateLimitedError(ends - now, cfg.rate_limit)


def _send(state: ChatState, cmd: SendMessage, now: float, cfg: RulesConfig) -> Events:
    return decide_send(state, cmd, now, cfg, scheduled=None)


def check_send(
    state: ChatState,
    *,
    author: str,
    text: str,
    room: str | None,
    to: str | None,
    now: float,
    config: RulesConfig,
) -> str:
    """The room a message would go to, if the rules let the author send it now.

    What `SendMessage` checks before it decides anything; an upload asks
    this before it reads a byte of its body. Raises ValidationError,
    BannedError, NotFoundError, NotMemberError, RateLimitedError.
    """
    check_text_length(text, config)
    check_not_banned(state, author, now)
    target = target_room(state, author, room, to)
    if target == GENERAL:
        _check_rate(state, author, now, config)
    return target


def decide_send(
    state: ChatState, cmd: SendMessage, now: float, cfg: RulesConfig, *, scheduled: int | None
) -> Events:
    room = check_send(
        state, author=cmd.author, text=cmd.text, room=cmd.room, to=cmd.to, now=now, config=cfg
    )
    created: Events = ()
    if cmd.to is not None and state.room_kind(room) is None:
        recipient = state.user_name(cmd.to)
        assert recipient is not None
        members = tuple(sorted((cmd.author, recipient), key=name_key))
        created = (RoomCreated(room=room, kind="direct", name=room, members=members),)
    file = cmd.file
    sent = MessageSent(
        room=room,
        author=cmd.author,
        text=cmd.text,
        idempotency_key=cmd.idempotency_key,
        scheduled=scheduled,
        file_name=None if file is None else file.name,
        file_size=None if file is None else file.size,
        file_type=None if file is None else file.content_type,
        file_sha256=None if file is None else file.sha256,
    )
    return (*created, sent)


def _comment(state: ChatState, cmd: CommentMessage, now: float, cfg: RulesConfig) -> Events:
    check_text_length(cmd.text, cfg)
    check_not_banned(state, cmd.author, now)
    room = state.message_room(cmd.message, now)
    if room is None:
        raise NotFoundError(f"there is no message {cmd.message}")
    joined = state.joined_at(room, cmd.author)
    if joined is None and state.room_kind(room) == "group":
        raise NotMemberError("you are not a member of the message's room")
    if joined is None or joined > cmd.message:
        raise NotFoundError(f"there is no message {cmd.message}")
    if room == GENERAL:  # a comment there reaches everyone, as a message does
        _check_rate(state, cmd.author, now, cfg)
    return (MessageCommented(message=cmd.message, room=room, author=cmd.author, text=cmd.text),)


DECIDERS: dict[type[Command], Decider] = {
    SendMessage: _send,
    CommentMessage: _comment,
}
