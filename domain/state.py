"""What the rules decide on: the state they may read, the limits, and the checks they share.

Rules read state through `ChatState`, a narrow view the projections offer,
so each fact is folded once. They never do I/O and never read the clock:
`now` comes in as an argument. A refused command raises a DomainError.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from attrs import frozen

from domain.errors import (
    BannedError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    ValidationError,
)
from domain.events import (
    Event,
)
from domain.names import name_key

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


def check_cap(count: int, cap: int, what: str) -> None:
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


def check_text_length(text: str, cfg: RulesConfig) -> None:
    if len(text) > cfg.max_text_length:
        raise ValidationError(f"text is longer than {cfg.max_text_length} characters", field="text")


def is_member(state: ChatState, room: str, user: str) -> bool:
    return state.joined_at(room, user) is not None


def check_not_banned(state: ChatState, user: str, now: float) -> None:
    until = state.banned_until(user)
    if until is not None and now < until:
        raise BannedError(until)


def check_not_blocked(state: ChatState, user: str, author: str, what: str) -> None:
    if state.blocks(user, author):
        raise ForbiddenError(f"{user} does not accept {what} from you")


def other_user(state: ChatState, user: str, other: str, verb: str) -> str:
    """The registered spelling of another user. Raises NotFoundError, ValidationError."""
    target = state.user_name(other)
    if target is None:
        raise NotFoundError(f"there is no user {other!r}")
    if name_key(target) == name_key(user):
        raise ValidationError(f"you cannot {verb} yourself", field="name")
    return target


Decider = Callable[[ChatState, Any, float, RulesConfig], Events]
