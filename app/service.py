"""`ChatService`: the core and the features over it, started and stopped together.

This is the app layer's facade: the transport reaches each feature by its
name (`service.messages.send`, `service.rooms.create`, ...), the same names
as the modules of `app/` and `transport/api/`. The features share one
`Core` (the only writer) and know nothing of this class.

Time, ids and randomness come in through `clock`, `token_factory` and
`salt_factory`, so tests control them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import stat
import time
from collections.abc import Callable
from pathlib import Path

from app.blobs import BlobStore
from app.core import Clock, Core
from app.edits import Edits
from app.errors import ServiceFailedError, StartupError
from app.files import Files
from app.identity import Identity
from app.messages import Messages
from app.moderation import Moderation
from app.polling import Polling
from app.rooms import Rooms
from app.schedule import Schedule
from app.search import Search
from app.settings import Settings
from app.snapshotting import Snapshots
from app.streams import Streams
from app.views import Health
from domain import CreateGeneral, InsufficientStorageError
from eventstore import EventLog, EventStoreError, FileEventLog

log = logging.getLogger("app.service")


class ChatService:
    """One chat: the core (log + read model) and every feature over it."""

    def __init__(
        self,
        settings: Settings,
        event_log: EventLog,
        *,
        clock: Clock = time.time,
        token_factory: Callable[[], str] = lambda: secrets.token_hex(32),
        salt_factory: Callable[[], bytes] = lambda: secrets.token_bytes(16),
        blobs: BlobStore | None = None,
    ) -> None:
        self.settings = settings
        self.core = core = Core(settings, event_log, clock=clock)
        self.polling = Polling(core)
        self.streams = Streams(core, self.polling)
        self.identity = Identity(
            core,
            self.polling,
            token_factory=token_factory,
            salt_factory=salt_factory,
            polling=lambda user_key: self.polling.waiters.parked(user_key) > 0,
        )
        self.messages = Messages(core)
        self.edits = Edits(core)
        self.search = Search(core, self.messages)
        self.rooms = Rooms(core, self.polling, token_factory=token_factory)
        self.files = Files(core, self.messages, blobs)
        self.schedule = Schedule(core)
        self.moderation = Moderation(core)
        core.listen(self.polling)
        core.listen(self.schedule)
        self.snapshots = Snapshots(core, settings)
        self.replayed_events = 0
        self.replay_s = 0.0
        self._background: list[asyncio.Task[None]] = []

    # -- life cycle ------------------------------------------------------------

    @property
    def log_id(self) -> str:
        return self.core.log_id

    @property
    def failed(self) -> asyncio.Event:
        """Set when the log fails: the server must stop."""
        return self.core.failed

    def replay(self) -> int:
        """Load the newest usable snapshot and fold the log after it; returns how many events.

        Raises StartupError naming the offset of an event this code cannot
        read, or saying why the log cannot be started from.
        """
        started = time.monotonic()
        self.replayed_events = self.snapshots.restore()
        self.polling.recent.start_after(self.core.durable_head)
        self.identity.seed_presence()
        self.replay_s = time.monotonic() - started
        return self.replayed_events

    async def start(self, *, timers: bool = True) -> None:
        """Create `general` on the first start; start the cursor flusher and the delivery timer.

        With `timers=False` nothing runs in the background: a test then calls
        `polling.flush()` and `schedule.deliver_due()` itself, deterministically.
        """
        await self.core.execute([CreateGeneral()])
        if timers:
            self._background = [
                asyncio.create_task(self.polling.flush_forever()),
                asyncio.create_task(self.schedule.run_forever()),
                asyncio.create_task(self.files.sweep_forever()),
                asyncio.create_task(self.identity.maintain_forever()),
                asyncio.create_task(self._forget_idle_budgets()),
                asyncio.create_task(self.snapshots.run_forever()),
            ]

    async def _forget_idle_budgets(self) -> None:
        while True:
            await asyncio.sleep(60.0)
            self.core.budgets.forget_idle()

    def close_polls(self) -> None:
        """Answer every parked long poll and end every stream now (the server is shutting down)."""
        self.polling.close()

    async def close(self) -> None:
        """Answer the polls, stop the timers, flush pending cursors, close the log."""
        self.close_polls()
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        if not self.core.has_failed:
            try:
                await self.polling.flush()
            except InsufficientStorageError:
                log.warning("cursors not saved at shutdown: the disk is full")
            except ServiceFailedError:
                log.warning("cursor flush at shutdown failed: the log has failed")
        await self.snapshots.close()
        self.identity.close()
        await self.core.close()

    def health(self) -> Health:
        return Health(offset=self.core.durable_head, log=self.log_id)


LOG_FILE = "events.log"


def prepare_data_dir(path: Path) -> None:
    """Make the data directory (owner-only) or check that an existing one is safe to use.

    Everything in it is private (every direct message, the password hashes):
    refuse a directory that is a symlink, belongs to another user, or that
    others may write to (they could plant links or files in it).
    Raises StartupError saying what is wrong.
    """
    if not path.exists() and not path.is_symlink():
        path.mkdir(mode=0o700, parents=True)
        return
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode):
        raise StartupError(f"the data directory {path} is a symbolic link; give its real path")
    if not stat.S_ISDIR(info.st_mode):
        raise StartupError(f"the data directory {path} is not a directory")
    if info.st_uid != os.geteuid():
        raise StartupError(
            f"the data directory {path} belongs to uid {info.st_uid}, not to this server's "
            f"user (uid {os.geteuid()})"
        )
    if info.st_mode & 0o022:
        raise StartupError(
            f"others may write to the data directory {path} "
            f"(mode {stat.S_IMODE(info.st_mode):o}); run `chmod go-w {path}`"
        )


async def open_log(settings: Settings) -> EventLog:
    """The file log under `settings.data_dir` (made if missing), opened for writing.

    Raises StartupError with a message saying what is wrong and what to do.
    """
    path = settings.data_dir / LOG_FILE
    try:
        prepare_data_dir(settings.data_dir)
        return await FileEventLog.open(
            path,
            fsync=settings.fsync,
            fsync_interval_s=settings.fsync_interval_s,
            segment_max_bytes=settings.segment_max_bytes,
            segment_max_age_s=settings.segment_max_age_s,
        )
    except (EventStoreError, OSError) as exc:
        raise StartupError(f"cannot open the event log {path}: {exc}") from exc


async def open_service(
    settings: Settings,
    *,
    event_log: EventLog | None = None,
    clock: Clock | None = None,
    blobs: BlobStore | None = None,
) -> ChatService:
    """A service on `event_log` (by default the file log of `open_log`), replayed and started.

    The log is closed again if the start fails.
    Raises StartupError with a message saying what is wrong and what to do.
    """
    if event_log is None:
        event_log = await open_log(settings)
    service = ChatService(settings, event_log, clock=clock or time.time, blobs=blobs)
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
