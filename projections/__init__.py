"""Pure folds of events into the read models the rules and queries use."""

from projections.model import EVENTS, EVERYONE, Audience, EventRow, ReadModel, fold
from projections.moderation import Moderation
from projections.rooms import JoinRequestRecord, RoomRecord, Rooms
from projections.schedule import Schedule
from projections.timeline import CommentRecord, FileRecord, MessageRecord, Timeline
from projections.users import SessionRecord, UserRecord, Users

__all__ = [
    "ReadModel",
    "EVENTS",
    "EventRow",
    "Audience",
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
