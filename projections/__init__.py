"""Pure folds of events into the read models the rules and queries use."""

from projections.moderation import Moderation
from projections.rooms import JoinRequestRecord, RoomRecord, Rooms
from projections.schedule import Schedule
from projections.timeline import CommentRecord, FileRecord, MessageRecord, Timeline
from projections.users import SessionRecord, UserRecord, Users
from projections.view import EVERYONE, ChatView, fold

__all__ = [
    "ChatView",
    "EVERYONE",
    "fold",
    "CommentRecord",
    "FileRecord",
    "JoinRequestRecord",
    "MessageRecord",
    "Moderation",
    "RoomRecord",
    "Rooms",
    "Schedule",
    "SessionRecord",
    "Timeline",
    "UserRecord",
    "Users",
]
