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
    BlockUser,
    CancelScheduled,
    CloseSession,
    Command,
    CommentMessage,
    CreateGeneral,
    CreateLink,
    CreateRoom,
    DecideJoin,
    DeleteMessage,
    DeliverScheduled,
    EditMessage,
    ExpireSessions,
    InviteMember,
    LeaveRoom,
    MarkRoomRead,
    MoveCursor,
    OpenSession,
    RegisterUser,
    ReportUser,
    RequestJoin,
    RevokeLink,
    ScheduleMessage,
    SendMessage,
    TouchSession,
    UnblockUser,
)
from domain.errors import (
    BannedError,
    ConflictError,
    DomainError,
    ForbiddenError,
    NotFoundError,
    NotMemberError,
    NotOwnerError,
    RateLimitedError,
    ValidationError,
)
from domain.events import (
    CursorMoved,
    Event,
    JoinDecided,
    JoinRequested,
    LinkCreated,
    LinkRevoked,
    MemberJoined,
    MemberLeft,
    MessageCommented,
    MessageDeleted,
    MessageEdited,
    MessageScheduled,
    MessageSent,
    RoomCreated,
    RoomRead,
    ScheduledCancelled,
    ScheduledFailed,
    SessionClosed,
    SessionOpened,
    SessionTouched,
    UserBanned,
    UserBlocked,
    UserRegistered,
    UserReported,
    UserUnblocked,
)
from domain.names import DIRECT_PREFIX, GENERAL, direct_room_id, name_key, name_skeleton

Events = tuple[Event, ...]


@frozen(kw_only=True)
class ScheduledState:
    """A scheduled message as the rules see it."""

    id: int
    author: str
    text: str
    send_at: float
    status: str  # pending | sent | cancelled | failed
    room: str | None = None
    to: str | None = None


class ChatState(Protocol):
    """What the rules need to know, answered by the projections."""

    def user_name(self, user: str) -> str | None:
        """The registered spelling of a user name (any case), None if unknown."""
        ...

    def room_kind(self, room: str) -> str | None:
        """`general`, `group` or `direct`; None for an unknown room."""
        ...

    def room_owner(self, room: str) -> str | None:
        """The owner's name of a group room."""
        ...

    def joined_at(self, room: str, user: str) -> int | None:
        """The offset from which the user sees the room (0 for general), None if not a member."""
        ...

    def member_count(self, room: str) -> int:
        """How many members the room has now."""
        ...

    def session_is_open(self, session: int) -> bool:
        """Whether the session opened at this offset is still open."""
        ...

    def session_user(self, session: int) -> str | None:
        """The user an open session belongs to, None when it is not open."""
        ...

    def least_recent_session(self, user: str) -> int | None:
        """The user's open session used least recently."""
        ...

    def idle_sessions(self, since: float) -> list[tuple[str, int]]:
        """(user, session) of every open session not used since `since`."""
        ...

    def user_with_skeleton(self, skeleton: str) -> str | None:
        """A registered user whose name looks like this (`name_skeleton`)."""
        ...

    def registered_ts(self, user: str) -> float | None:
        """When the user registered."""
        ...

    def blocks(self, user: str, other: str) -> bool:
        """Whether `user` has blocked `other`."""
        ...

    def cursor_of(self, user: str) -> int:
        """The user's acknowledged offset (0 before any)."""
        ...

    def banned_until(self, user: str) -> float | None:
        """When the user's latest ban ends (it may be over)."""
        ...

    def general_window(self, user: str) -> tuple[float, int] | None:
        """Start and message count of the user's latest rate window in `general`."""
        ...

    def reporters_of(self, user: str) -> frozenset[str]:
        """Name keys of the users whose reports count toward the user's next ban."""
        ...

    def scheduled(self, scheduled: int) -> ScheduledState | None:
        """A scheduled message by id."""
        ...

    def message_room(self, message: int, now: float) -> str | None:
        """The room of an unexpired message, None if unknown or expired."""
        ...

    def message_author(self, message: int, now: float) -> str | None:
        """The author of an unexpired message, None if unknown or expired."""
        ...

    def read_mark(self, user: str, room: str) -> int:
        """The offset up to which the user has viewed the room (0 before any)."""
        ...

    def link_room(self, link_hash: str) -> str | None:
        """The room an active join link leads to."""
        ...

    def join_pending(self, room: str, user: str) -> bool:
        """Whether the user has a pending join request for the room."""
        ...

    def counts(self, user: str, room: str | None = None) -> Counts:
        """How much the user (and the room) hold of what the caps limit."""
        ...


@frozen(kw_only=True)
class Counts:
    """What one user has piled up, for the caps in RulesConfig."""

    open_sessions: int = 0
    pending_scheduled: int = 0
    owned_rooms: int = 0
    room_links: int = 0


def _check_cap(count: int, cap: int, what: str) -> None:
    if count >= cap:
        raise ConflictError(f"the limit of {cap} {what} is reached")


@frozen(kw_only=True)
class RulesConfig:
    """The limits the rules enforce.

    No defaults here: the server's settings (`app.Settings`) declare each
    limit once, with its default and help, and fill this by field name.
    """

    max_text_length: int
    rate_limit: int
    rate_window_s: float
    report_threshold: int
    ban_duration_s: float
    max_schedule_ahead_s: float
    max_sessions_per_user: int
    max_pending_scheduled_per_user: int
    max_rooms_per_owner: int
    max_links_per_room: int
    report_min_account_age_s: float  # younger accounts' reports do not count
    session_idle_s: float  # a session unused this long is closed


def _check_text_length(text: str, cfg: RulesConfig) -> None:
    if len(text) > cfg.max_text_length:
        raise ValidationError(f"text is longer than {cfg.max_text_length} characters", field="text")


def _is_member(state: ChatState, room: str, user: str) -> bool:
    return state.joined_at(room, user) is not None


def _check_not_banned(state: ChatState, user: str, now: float) -> None:
    until = state.banned_until(user)
    if until is not None and now < until:
        raise BannedError(until)


def _create_general(state: ChatState, _: CreateGeneral, now: float, cfg: RulesConfig) -> Events:
    if state.room_kind(GENERAL) is not None:
        return ()
    return (RoomCreated(room=GENERAL, kind="general", name=GENERAL, members=()),)


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
            _check_cap(cfg.max_sessions_per_user, cfg.max_sessions_per_user, "open sessions")
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


def _block(state: ChatState, cmd: BlockUser, now: float, cfg: RulesConfig) -> Events:
    target = _other_user(state, cmd.user, cmd.blocked, "block")
    if state.blocks(cmd.user, target):
        return ()
    return (UserBlocked(user=cmd.user, blocked=target),)


def _unblock(state: ChatState, cmd: UnblockUser, now: float, cfg: RulesConfig) -> Events:
    target = _other_user(state, cmd.user, cmd.blocked, "unblock")
    if not state.blocks(cmd.user, target):
        return ()
    return (UserUnblocked(user=cmd.user, blocked=target),)


def _other_user(state: ChatState, user: str, other: str, verb: str) -> str:
    """The registered spelling of another user. Raises NotFoundError, ValidationError."""
    target = state.user_name(other)
    if target is None:
        raise NotFoundError(f"there is no user {other!r}")
    if name_key(target) == name_key(user):
        raise ValidationError(f"you cannot {verb} yourself", field="name")
    return target


# -- messages ---------------------------------------------------------------------


def _target_room(state: ChatState, author: str, room: str | None, to: str | None) -> str:
    """The room a message goes to; the direct room of `to` may not exist yet."""
    if to is not None:
        recipient = state.user_name(to)
        if recipient is None:
            raise NotFoundError(f"there is no user {to!r}")
        if name_key(recipient) == name_key(author):
            raise ValidationError("you cannot send a direct message to yourself", field="to")
        _check_not_blocked(state, recipient, author, "direct messages")
        return direct_room_id(author, recipient)
    room = GENERAL if room is None else room
    kind = state.room_kind(room)
    # Private rooms the author is not in are reported unknown, so ids do not leak.
    if kind is None or (kind != GENERAL and not _is_member(state, room, author)):
        if kind == "group":
            raise NotMemberError(f"you are not a member of {room!r}")
        raise NotFoundError(f"there is no room {room!r}")
    if kind == "direct":
        for key in room.removeprefix(DIRECT_PREFIX).split(":"):
            other = state.user_name(key)
            if other is not None and name_key(other) != name_key(author):
                _check_not_blocked(state, other, author, "direct messages")
    return room


def _check_not_blocked(state: ChatState, user: str, author: str, what: str) -> None:
    if state.blocks(user, author):
        raise ForbiddenError(f"{user} does not accept {what} from you")


def _check_rate(state: ChatState, author: str, now: float, cfg: RulesConfig) -> None:
    window = state.general_window(author)
    if window is None:
        return
    start, count = window
    ends = start + cfg.rate_window_s
    if now < ends and count >= cfg.rate_limit:
        raise RateLimitedError(ends - now, cfg.rate_limit)


def _send(state: ChatState, cmd: SendMessage, now: float, cfg: RulesConfig) -> Events:
    return _sent(state, cmd, now, cfg, scheduled=None)


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
    _check_text_length(text, config)
    _check_not_banned(state, author, now)
    target = _target_room(state, author, room, to)
    if target == GENERAL:
        _check_rate(state, author, now, config)
    return target


def _sent(
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


def _schedule(state: ChatState, cmd: ScheduleMessage, now: float, cfg: RulesConfig) -> Events:
    _check_text_length(cmd.text, cfg)
    _check_not_banned(state, cmd.author, now)
    if cmd.send_at > now + cfg.max_schedule_ahead_s:
        raise ValidationError(
            f"send_at is more than {cfg.max_schedule_ahead_s / 86400:g} days ahead",
            field="send_at",
        )
    _target_room(state, cmd.author, cmd.room, cmd.to)
    pending = state.counts(cmd.author).pending_scheduled
    _check_cap(pending, cfg.max_pending_scheduled_per_user, "pending scheduled messages")
    return (
        MessageScheduled(
            author=cmd.author,
            text=cmd.text,
            send_at=cmd.send_at,
            room=cmd.room if cmd.to is None else None,
            to=cmd.to,
            idempotency_key=cmd.idempotency_key,
        ),
    )


def _cancel(state: ChatState, cmd: CancelScheduled, now: float, cfg: RulesConfig) -> Events:
    scheduled = state.scheduled(cmd.scheduled)
    if scheduled is None or name_key(scheduled.author) != name_key(cmd.author):
        raise NotFoundError(f"you have no scheduled message {cmd.scheduled}")
    if scheduled.status != "pending":
        raise ConflictError(f"scheduled message {cmd.scheduled} is already {scheduled.status}")
    return (ScheduledCancelled(scheduled=cmd.scheduled, author=scheduled.author),)


def _deliver(state: ChatState, cmd: DeliverScheduled, now: float, cfg: RulesConfig) -> Events:
    scheduled = state.scheduled(cmd.scheduled)
    if scheduled is None or scheduled.status != "pending":
        return ()
    send = SendMessage(
        author=scheduled.author, text=scheduled.text, room=scheduled.room, to=scheduled.to
    )
    try:
        return _sent(state, send, now, cfg, scheduled=scheduled.id)
    except DomainError as refused:  # the rules in force now say no: record why
        return (
            ScheduledFailed(scheduled=scheduled.id, author=scheduled.author, reason=refused.code),
        )


def _comment(state: ChatState, cmd: CommentMessage, now: float, cfg: RulesConfig) -> Events:
    _check_text_length(cmd.text, cfg)
    _check_not_banned(state, cmd.author, now)
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


def _own_message(state: ChatState, user: str, message: int, now: float, verb: str) -> str:
    """The room of a message the user wrote and may still see.

    Raises NotFoundError (unknown, expired, or not visible to the user),
    ForbiddenError (another user's).
    """
    room = state.message_room(message, now)
    joined = None if room is None else state.joined_at(room, user)
    if room is None or joined is None or joined > message:
        raise NotFoundError(f"there is no message {message}")
    author = state.message_author(message, now)
    if author is None or name_key(author) != name_key(user):
        raise ForbiddenError(f"only its author may {verb} message {message}")
    return room


def _edit(state: ChatState, cmd: EditMessage, now: float, cfg: RulesConfig) -> Events:
    """An edit is a send of new text: the same length, ban and `general` window rules."""
    _check_text_length(cmd.text, cfg)
    room = _own_message(state, cmd.author, cmd.message, now, "edit")
    _check_not_banned(state, cmd.author, now)
    if room == GENERAL:
        _check_rate(state, cmd.author, now, cfg)
    return (MessageEdited(message=cmd.message, room=room, author=cmd.author, text=cmd.text),)


def _delete(state: ChatState, cmd: DeleteMessage, now: float, cfg: RulesConfig) -> Events:
    room = _own_message(state, cmd.author, cmd.message, now, "delete")
    return (MessageDeleted(message=cmd.message, room=room, author=cmd.author),)


def _mark_read(state: ChatState, cmd: MarkRoomRead, now: float, cfg: RulesConfig) -> Events:
    if state.joined_at(cmd.room, cmd.user) is None:
        return ()
    if cmd.upto <= state.read_mark(cmd.user, cmd.room):
        return ()
    return (RoomRead(user=cmd.user, room=cmd.room, upto=cmd.upto),)


# -- moderation -------------------------------------------------------------------


def _report(state: ChatState, cmd: ReportUser, now: float, cfg: RulesConfig) -> Events:
    target = state.user_name(cmd.user)
    if target is None:
        raise NotFoundError(f"there is no user {cmd.user!r}")
    if name_key(target) == name_key(cmd.reporter):
        raise ValidationError("you cannot report yourself", field="name")
    until = state.banned_until(target)
    reporters = state.reporters_of(target)
    if (until is not None and now < until) or name_key(cmd.reporter) in reporters:
        return ()  # counts once; reports during a ban do not count toward the next one
    registered = state.registered_ts(cmd.reporter)
    if registered is None or now - registered < cfg.report_min_account_age_s:
        return ()  # a throwaway account's report does not count
    reported = UserReported(user=target, reporter=cmd.reporter, reason=cmd.reason)
    if len(reporters) + 1 >= cfg.report_threshold:
        return (reported, UserBanned(user=target, until=now + cfg.ban_duration_s))
    return (reported,)


# -- rooms, invitations, links ------------------------------------------------------


def require_owner(state: ChatState, room: str, user: str) -> str:
    """The owner's name if `user` owns the group room `room`.

    Raises NotFoundError (no such room, or a private one the user is not in),
    NotOwnerError. Commands and the owner-only queries share this check.
    """
    if state.room_kind(room) != "group" or not _is_member(state, room, user):
        raise NotFoundError(f"there is no room {room!r}")
    owner = state.room_owner(room)
    if owner is None or name_key(owner) != name_key(user):
        raise NotOwnerError(f"only the owner of {room!r} may do this")
    return owner


def _create_room(state: ChatState, cmd: CreateRoom, now: float, cfg: RulesConfig) -> Events:
    if state.room_kind(cmd.room) is not None:
        raise ConflictError(f"room {cmd.room!r} exists")
    owned = state.counts(cmd.owner).owned_rooms
    _check_cap(owned, cfg.max_rooms_per_owner, "rooms per owner")
    members = {name_key(cmd.owner): cmd.owner}
    for name in cmd.members:
        user = state.user_name(name)
        if user is None:
            raise NotFoundError(f"there is no user {name!r}")
        members.setdefault(name_key(user), user)
    return (
        RoomCreated(
            room=cmd.room,
            kind="group",
            name=cmd.name,
            owner=cmd.owner,
            members=tuple(members.values()),
            history=cmd.history,
        ),
    )


def _invite(state: ChatState, cmd: InviteMember, now: float, cfg: RulesConfig) -> Events:
    owner = require_owner(state, cmd.room, cmd.owner)
    user = state.user_name(cmd.user)
    if user is None:
        raise NotFoundError(f"there is no user {cmd.user!r}")
    if _is_member(state, cmd.room, user):
        return ()
    _check_not_blocked(state, user, owner, "invitations")
    return (MemberJoined(room=cmd.room, user=user, by=owner),)


def _leave(state: ChatState, cmd: LeaveRoom, now: float, cfg: RulesConfig) -> Events:
    kind = state.room_kind(cmd.room)
    if kind is None or not _is_member(state, cmd.room, cmd.user):
        raise NotFoundError(f"you are not in a room {cmd.room!r}")
    if kind != "group":
        raise ConflictError(f"nobody leaves a {kind} room")
    owner = state.room_owner(cmd.room)
    is_owner = owner is not None and name_key(owner) == name_key(cmd.user)
    if is_owner and state.member_count(cmd.room) > 1:
        raise ConflictError("the owner cannot leave a room that still has other members")
    return (MemberLeft(room=cmd.room, user=cmd.user),)


def _create_link(state: ChatState, cmd: CreateLink, now: float, cfg: RulesConfig) -> Events:
    owner = require_owner(state, cmd.room, cmd.owner)
    links = state.counts(cmd.owner, cmd.room).room_links
    _check_cap(links, cfg.max_links_per_room, "active links per room")
    return (LinkCreated(room=cmd.room, link_hash=cmd.link_hash, by=owner),)


def _revoke_link(state: ChatState, cmd: RevokeLink, now: float, cfg: RulesConfig) -> Events:
    owner = require_owner(state, cmd.room, cmd.owner)
    if state.link_room(cmd.link_hash) != cmd.room:
        raise NotFoundError("there is no such link to this room")
    return (LinkRevoked(room=cmd.room, link_hash=cmd.link_hash, by=owner),)


def _request_join(state: ChatState, cmd: RequestJoin, now: float, cfg: RulesConfig) -> Events:
    room = state.link_room(cmd.link_hash)
    if room is None:
        raise NotFoundError("this join link is unknown or revoked")
    if _is_member(state, room, cmd.user) or state.join_pending(room, cmd.user):
        return ()
    return (JoinRequested(room=room, user=cmd.user, link_hash=cmd.link_hash),)


def _decide_join(state: ChatState, cmd: DecideJoin, now: float, cfg: RulesConfig) -> Events:
    owner = require_owner(state, cmd.room, cmd.owner)
    user = state.user_name(cmd.user)
    if user is None or not state.join_pending(cmd.room, user):
        raise NotFoundError(f"{cmd.user!r} has no pending request to join {cmd.room!r}")
    decided = JoinDecided(room=cmd.room, user=user, approved=cmd.approve, by=owner)
    if not cmd.approve:
        return (decided,)
    return (decided, MemberJoined(room=cmd.room, user=user, by=owner))


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
    TouchSession: _touch_session,
    ExpireSessions: _expire_sessions,
    BlockUser: _block,
    UnblockUser: _unblock,
    SendMessage: _send,
    ScheduleMessage: _schedule,
    CancelScheduled: _cancel,
    DeliverScheduled: _deliver,
    CommentMessage: _comment,
    EditMessage: _edit,
    DeleteMessage: _delete,
    MarkRoomRead: _mark_read,
    ReportUser: _report,
    CreateRoom: _create_room,
    InviteMember: _invite,
    LeaveRoom: _leave,
    CreateLink: _create_link,
    RevokeLink: _revoke_link,
    RequestJoin: _request_join,
    DecideJoin: _decide_join,
    MoveCursor: _move_cursor,
}


def decide(state: ChatState, command: Command, *, now: float, config: RulesConfig) -> Events:
    """The events a command causes in this state.

    Raises DomainError (a subclass) when a rule refuses the command.
    """
    return DECIDERS[type(command)](state, command, now, config)
