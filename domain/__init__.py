"""Commands, events and the rules that decide events from state."""

from domain.commands import (
    CloseSession,
    Command,
    CreateGeneral,
    MoveCursor,
    OpenSession,
    RegisterUser,
    SendMessage,
)
from domain.errors import (
    BadCredentialsError,
    ConflictError,
    DomainError,
    LogMismatchError,
    NotFoundError,
    NotMemberError,
    OffsetOutOfRangeError,
    UnauthorizedError,
    ValidationError,
)
from domain.events import (
    EVENT_CODECS,
    CursorMoved,
    Event,
    EventDecodeError,
    MemberJoined,
    MessageSent,
    RoomCreated,
    SessionClosed,
    SessionOpened,
    UserRegistered,
    decode,
    encode,
    event_type,
)
from domain.names import (
    DIRECT_PREFIX,
    GENERAL,
    check_password,
    check_text,
    check_user_name,
    direct_room_id,
    name_key,
)
from domain.passwords import ScryptCost, hash_password, verify_password
from domain.rules import ChatState, RulesConfig, decide

__all__ = [
    # commands
    "Command",
    "CreateGeneral",
    "RegisterUser",
    "OpenSession",
    "CloseSession",
    "SendMessage",
    "MoveCursor",
    # events
    "Event",
    "UserRegistered",
    "SessionOpened",
    "SessionClosed",
    "RoomCreated",
    "MemberJoined",
    "MessageSent",
    "CursorMoved",
    "EVENT_CODECS",
    "EventDecodeError",
    "encode",
    "decode",
    "event_type",
    # rules
    "ChatState",
    "RulesConfig",
    "decide",
    # names and secrets
    "GENERAL",
    "DIRECT_PREFIX",
    "name_key",
    "check_user_name",
    "check_password",
    "check_text",
    "direct_room_id",
    "ScryptCost",
    "hash_password",
    "verify_password",
    # errors
    "DomainError",
    "ValidationError",
    "BadCredentialsError",
    "UnauthorizedError",
    "NotMemberError",
    "NotFoundError",
    "ConflictError",
    "OffsetOutOfRangeError",
    "LogMismatchError",
]
