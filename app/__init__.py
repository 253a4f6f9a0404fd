"""The application service, its queries, timers, configuration and wiring."""

from app.errors import ServiceFailedError, StartupError
from app.service import ChatService, token_hash
from app.settings import MIB, Settings
from app.views import (
    ConnectResult,
    EventsPage,
    EventView,
    Health,
    HistoryPage,
    MessageView,
    RoomView,
    Session,
    SessionView,
    StatusResult,
)

__all__ = [
    "MIB",
    "Settings",
    "ChatService",
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
]
