"""The application service, its queries, timers, configuration and wiring."""

from app.errors import ServiceFailedError, StartupError
from app.service import ChatService, token_hash
from app.settings import MIB, Settings
from app.views import (
    CommentView,
    ConnectResult,
    EventsPage,
    EventView,
    FileView,
    Health,
    HistoryPage,
    JoinRequestView,
    LinkView,
    MessageView,
    RoomView,
    ScheduledView,
    Session,
    SessionView,
    StatusResult,
)
from app.wiring import open_service

__all__ = [
    "MIB",
    "Settings",
    "ChatService",
    "open_service",
    "token_hash",
    "StartupError",
    "ServiceFailedError",
    "Session",
    "ConnectResult",
    "StatusResult",
    "HistoryPage",
    "EventsPage",
    "EventView",
    "MessageView",
    "RoomView",
    "SessionView",
    "Health",
    "CommentView",
    "FileView",
    "JoinRequestView",
    "LinkView",
    "ScheduledView",
]
