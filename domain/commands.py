"""Commands: what a user (or a timer) asks for, already parsed and validated for shape."""

from __future__ import annotations

from attrs import frozen


@frozen(kw_only=True)
class CreateGeneral:
    """Create the shared `general` room (once, at the first start)."""


@frozen(kw_only=True)
class RegisterUser:
    name: str
    password_hash: str


@frozen(kw_only=True)
class OpenSession:
    user: str
    token_hash: str


@frozen(kw_only=True)
class CloseSession:
    user: str  # whose session it must be
    session: int
    reason: str = "signed_out"  # or "revoked": ended from another session


@frozen(kw_only=True)
class TouchSession:
    user: str
    session: int


@frozen(kw_only=True)
class ExpireSessions:
    """The timer's command: close every session idle for longer than the rules allow."""


@frozen(kw_only=True)
class BlockUser:
    user: str
    blocked: str


@frozen(kw_only=True)
class UnblockUser:
    user: str
    blocked: str


@frozen(kw_only=True)
class FileRef:
    """A stored upload a message carries."""

    name: str
    size: int
    content_type: str
    sha256: str


@frozen(kw_only=True)
class SendMessage:
    author: str
    text: str
    room: str | None = None  # None with `to` set: a direct message
    to: str | None = None
    idempotency_key: str | None = None
    file: FileRef | None = None


@frozen(kw_only=True)
class ScheduleMessage:
    author: str
    text: str
    send_at: float
    room: str | None = None
    to: str | None = None
    idempotency_key: str | None = None


@frozen(kw_only=True)
class CancelScheduled:
    author: str
    scheduled: int


@frozen(kw_only=True)
class DeliverScheduled:
    """The timer's command: send a scheduled message that fell due."""

    scheduled: int


@frozen(kw_only=True)
class CommentMessage:
    author: str
    message: int
    text: str


@frozen(kw_only=True)
class EditMessage:
    author: str  # who asks: only the message's author may
    message: int
    text: str


@frozen(kw_only=True)
class DeleteMessage:
    author: str
    message: int


@frozen(kw_only=True)
class MarkRoomRead:
    user: str
    room: str
    upto: int  # the newest message the user was shown


@frozen(kw_only=True)
class ReportUser:
    reporter: str
    user: str
    reason: str | None = None


@frozen(kw_only=True)
class CreateRoom:
    owner: str
    room: str  # the id the service picked
    name: str
    members: tuple[str, ...] = ()
    history: str = "shared"  # or "joined": what a new member sees of the past


@frozen(kw_only=True)
class InviteMember:
    owner: str
    room: str
    user: str


@frozen(kw_only=True)
class LeaveRoom:
    user: str
    room: str


@frozen(kw_only=True)
class CreateLink:
    owner: str
    room: str
    link_hash: str


@frozen(kw_only=True)
class RevokeLink:
    owner: str
    room: str
    link_hash: str


@frozen(kw_only=True)
class RequestJoin:
    user: str
    link_hash: str


@frozen(kw_only=True)
class DecideJoin:
    owner: str
    room: str
    user: str
    approve: bool


@frozen(kw_only=True)
class MoveCursor:
    user: str
    cursor: int
    session: int | None = None


Command = (
    CreateGeneral
    | RegisterUser
    | OpenSession
    | CloseSession
    | TouchSession
    | ExpireSessions
    | BlockUser
    | UnblockUser
    | SendMessage
    | ScheduleMessage
    | CancelScheduled
    | DeliverScheduled
    | CommentMessage
    | EditMessage
    | DeleteMessage
    | MarkRoomRead
    | ReportUser
    | CreateRoom
    | InviteMember
    | LeaveRoom
    | CreateLink
    | RevokeLink
    | RequestJoin
    | DecideJoin
    | MoveCursor
)
