"""Pure folds of events into the read models the rules and queries use."""

from projections.rooms import RoomRecord, Rooms
from projections.timeline import MessageRecord, Timeline
from projections.users import SessionRecord, UserRecord, Users
from projections.view import EVERYONE, ChatView, fold

__all__ = [
    "ChatView",
    "EVERYONE",
    "fold",
    "MessageRecord",
    "RoomRecord",
    "Rooms",
    "SessionRecord",
    "Timeline",
    "UserRecord",
    "Users",
]
