"""Pure folds of events into the read models the rules and queries use.

The classes are slotted attrs classes without attrs' own pickling methods
(`getstate_setstate=False`): pickle then restores their slots in C, with no
Python call per object, when a snapshot of the model loads (`app.snapshots`).
"""

from projections.cursors import CursorTrail
from projections.model import EVENTS, EVERYONE, Audience, EventRow, ReadModel, fold
from projections.moderation import Moderation
from projections.rooms import JoinRequestRecord, RoomRecord, Rooms
from projections.schedule import Schedule
from projections.search import SearchIndex, query_words, text_words
from projections.timeline import CommentRecord, FileRecord, MessageRecord, Timeline
from projections.users import SessionRecord, UserRecord, Users
from projections.version import PROJECTION_VERSION

__all__ = [
    "ReadModel",
    "EVENTS",
    "EventRow",
    "Audience",
    "EVERYONE",
    "fold",
    "PROJECTION_VERSION",
    "CursorTrail",
    "CommentRecord",
    "FileRecord",
    "JoinRequestRecord",
    "MessageRecord",
    "Moderation",
    "RoomRecord",
    "Rooms",
    "Schedule",
    "SearchIndex",
    "query_words",
    "text_words",
    "SessionRecord",
    "Timeline",
    "UserRecord",
    "Users",
]
