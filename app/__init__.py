"""The application layer: a thin core (the only writer) and one module per feature.

`ChatService` holds them: `identity` (connect, sessions, status), `messages`
(send, history, comments), `rooms` (rooms, members, links, requests),
`files`, `schedule`, `moderation` (reports, bans), `polling` (events,
cursors) and `streams` (the same events pushed on one open request).
`open_service` opens the log, replays it and starts the service.
"""

from app.blobs import BlobStore
from app.budgets import Budget, short_duration
from app.errors import ServiceFailedError, StartupError
from app.files import UploadPlan
from app.identity import token_hash
from app.moderation import MAX_REASON_CHARS
from app.rooms import MAX_INVITED_ON_CREATE
from app.service import ChatService, open_log, open_service
from app.settings import MIB, Setting, Settings, pick, setting_of
from app.streams import EventStream
from app.views import (
    CommentsPage,
    CommentView,
    ConnectResult,
    EventsPage,
    EventView,
    FileView,
    GeneralQuota,
    Health,
    HistoryPage,
    JoinRequestView,
    LastSeen,
    Limits,
    LinkView,
    MessageView,
    RoomView,
    ScheduledView,
    Session,
    SessionView,
    StatusResult,
)

__all__ = [
    "MIB",
    "Budget",
    "short_duration",
    "Settings",
    "Setting",
    "setting_of",
    "pick",
    "ChatService",
    "open_log",
    "open_service",
    "open_replica",
    "token_hash",
    "StartupError",
    "ServiceFailedError",
    "UploadPlan",
    "MAX_INVITED_ON_CREATE",
    "MAX_REASON_CHARS",
    "Session",
    "LastSeen",
    "GeneralQuota",
    "Limits",
    "ConnectResult",
    "StatusResult",
    "HistoryPage",
    "EventsPage",
    "EventStream",
    "EventView",
    "MessageView",
    "RoomView",
    "SessionView",
    "Health",
    "CommentView",
    "CommentsPage",
    "FileView",
    "JoinRequestView",
    "LinkView",
    "ScheduledView",
]


async def open_replica(settings: Settings, *, blobs: BlobStore | None = None) -> ChatService:
    """A replica on the JetStream log of `settings.nats_url` (see `app.replica.open_replica`).

    `app.replica` and nats-py are imported here, when a replica is asked for:
    a server on the file log starts without them (nats-py alone takes longer
    to import than the rest of the server).
    """
    from app.replica import open_replica as open_on_jetstream  # noqa: PLC0415

    return await open_on_jetstream(settings, blobs=blobs)
