"""The composition root: a data directory in, a started service out."""

from __future__ import annotations

import logging

from app.errors import StartupError
from app.service import ChatService, Clock
from app.settings import Settings
from eventstore import EventLog, EventStoreError, FileEventLog

log = logging.getLogger("app")

LOG_FILE = "events.log"


async def open_service(
    settings: Settings, *, event_log: EventLog | None = None, clock: Clock | None = None
) -> ChatService:
    """Open the log under `settings.data_dir` (or use `event_log`), replay it, start.

    Raises StartupError with a message saying what is wrong and what to do.
    """
    if event_log is None:
        path = settings.data_dir / LOG_FILE
        try:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            event_log = await FileEventLog.open(
                path, fsync=settings.fsync, fsync_interval_s=settings.fsync_interval_s
            )
        except (EventStoreError, OSError) as exc:
            raise StartupError(f"cannot open the event log {path}: {exc}") from exc
    service = (
        ChatService(settings, event_log)
        if clock is None
        else (ChatService(settings, event_log, clock=clock))
    )
    try:
        service.replay()
        removed = await service.files.remove_orphans()
        if removed:
            log.warning(
                "removed orphan uploads count=%d (a crash came between store and append)", removed
            )
        await service.start()
    except BaseException:
        await event_log.close()
        raise
    return service
