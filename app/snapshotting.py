"""Snapshots over the server's life: start from one, take them in the background, one at exit.

How this works: at start, `restore` loads the newest snapshot that verifies
(`app.snapshots`) and folds only the events after it; a start with none
folds the whole log, skipping the messages that will have expired by its
end. While the server runs, `run_forever` looks once a second: after
`--snapshot-every` events, or `--snapshot-interval` after the last snapshot
when events came, a child process writes a snapshot at the durable head
(`app.snapshot_taker`); the event loop only waits for it. After each one,
`log_upkeep` compacts the sealed segments below it and, with `--retain`,
deletes old ones; a snapshot that fails is tried again a minute later. At a
clean shutdown (the background task cancelled: that kills a child still
running) `close` lets the compaction in progress stop and pickles the model
itself (the loop has nothing else to do by then).

Where snapshots live is a `SnapshotPlace`: beside the file log
(`FilePlace`, with compaction and retention after each one), or in a
replica's own data directory (`app.replica_snapshots.StreamPlace`, which
also restores at a replica's start). On a log with neither (the memory log
of tests) a start folds the whole log and nothing runs in the background.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import time
from typing import Final, Protocol

from app.core import Core
from app.errors import StartupError
from app.log_upkeep import (
    UpkeepStoppedError,
    compact_below,
    delete_old_segments,
    snapshot_offsets,
)
from app.settings import Settings
from app.snapshot_taker import ChildSnapshot, SnapshotChildError, take_snapshot
from app.snapshots import code_version, encode_model, last_event_time, load_newest
from eventstore import EventStoreError, FileEventLog

log = logging.getLogger("app.snapshots")

CHECK_EVERY_S: Final = 1.0  # how often the background task looks whether one is due
RETRY_AFTER_S: Final = 60.0  # after a failed snapshot, the next try waits this long


class SnapshotPlace(Protocol):
    """Where a server's snapshots are written, and what else comes with one."""

    @property
    def durable_head(self) -> int:
        """The offset a snapshot taken now would be at."""
        ...

    async def take(self, upto: int, version: str) -> ChildSnapshot:
        """Have a child process write the snapshot at `upto`. Raises SnapshotChildError."""
        ...

    async def upkeep(self, taken: ChildSnapshot, *, stop: threading.Event) -> None:
        """What follows a snapshot (compaction, retention). Raises EventStoreError, OSError."""
        ...

    async def write(self, offset: int, payload: bytes, version: str) -> None:
        """Write a snapshot at `offset` (in a worker thread). Raises EventStoreError, OSError."""
        ...

    def offsets(self) -> list[int]:
        """The offsets of the snapshots written, newest first."""
        ...


class FilePlace:
    """Snapshots beside the file log; compaction and retention after each."""

    def __init__(self, file_log: FileEventLog, settings: Settings, core: Core) -> None:
        self.file_log = file_log
        self._settings = settings
        self._core = core

    @property
    def durable_head(self) -> int:
        return self.file_log.durable_head

    async def take(self, upto: int, version: str) -> ChildSnapshot:
        """Run the snapshot child on the log. Raises SnapshotChildError."""
        return await take_snapshot(
            self.file_log.path,
            upto=upto,
            version=version,
            ttl_s=self._settings.message_ttl_s,
            rate_window_s=self._settings.rate_window_s,
        )

    async def upkeep(self, taken: ChildSnapshot, *, stop: threading.Event) -> None:
        """Compact below the snapshot; with --retain, delete old segments.

        Raises UpkeepStoppedError, EventStoreError, OSError.
        """
        await compact_below(self.file_log, taken.offset, needed=taken.needed, stop=stop)
        if self._settings.retain_s > 0:
            await delete_old_segments(
                self.file_log, older_than=self._core.now() - self._settings.retain_s
            )

    async def write(self, offset: int, payload: bytes, version: str) -> None:
        """Write a snapshot beside the log. Raises EventStoreError, OSError."""
        store = self.file_log.snapshot_store()
        await asyncio.to_thread(store.write, offset, payload, version)

    def offsets(self) -> list[int]:
        return snapshot_offsets(self.file_log)


class Snapshots:
    """Where the model starts from, and the snapshots the server writes."""

    def __init__(self, core: Core, settings: Settings, place: SnapshotPlace | None = None) -> None:
        self._core = core
        self._settings = settings
        self._version = code_version(settings)
        log_ = core.event_log
        self._file_log = log_ if isinstance(log_, FileEventLog) else None
        if place is None and self._file_log is not None:
            place = FilePlace(self._file_log, settings, core)
        self._place = place
        self.started_from: int | None = None  # the snapshot offset the start used
        self.offset = 0  # the newest snapshot's offset (0: none)
        self._last_taken = time.monotonic()
        self._retry_at = 0.0  # after a failure, none is due before this (monotonic)
        self._upkeep: asyncio.Task[None] | None = None
        self._stopping = threading.Event()  # read by compaction in the store's worker thread

    # -- start ---------------------------------------------------------------------

    def restore(self) -> int:
        """Load the newest usable snapshot, then fold the events after it; return how many.

        No listener hears of the folded events: the polls' window of recent
        events starts empty at the head (filling it costs a third of a
        100k-event tail), and polls from before it read the log until it fills.

        Raises StartupError when an event cannot be read, or when no snapshot
        covers the events retention deleted.
        """
        core = self._core
        gc.disable()  # `Core.replay` enables and freezes it again
        try:
            after = self._load()
            model = core.model
            if core.event_log.durable_head > after:
                model.fold_until(last_event_time(core.event_log))
            return core.replay(keep_recent=0, after=after)
        finally:
            gc.enable()
            core.model.fold_until(None)

    def _load(self) -> int:
        """Make the newest usable snapshot the core's model; return its offset (0: none)."""
        file_log = self._file_log
        if file_log is None:
            return 0
        try:
            loaded = load_newest(file_log, self._version, fresh=self._core.model)
        except OSError as exc:
            raise StartupError(f"cannot read the snapshots of {file_log.path}: {exc}") from exc
        if loaded.path is not None:
            self._core.model = loaded.model
            self.started_from = self.offset = loaded.offset
        elif file_log.first_offset > 1:
            raise StartupError(
                f"the log {file_log.path} starts at offset {file_log.first_offset} "
                "(retention deleted the segments before it) and no snapshot that "
                "covers them could be used (see the refusals above, and "
                "`chat-log snapshots`): restore the snapshots, or start the version "
                "of the server that wrote them"
            )
        return loaded.offset

    # -- while running --------------------------------------------------------------

    def _due(self) -> bool:
        if self._place is None or time.monotonic() < self._retry_at:
            return False
        new = self._place.durable_head - self.offset
        every, interval_s = self._settings.snapshot_every_events, self._settings.snapshot_interval_s
        late = interval_s > 0 and time.monotonic() - self._last_taken >= interval_s
        return new > 0 and ((every > 0 and new >= every) or late)

    async def run_forever(self) -> None:
        """Take a snapshot whenever one is due, then compact and retain; cancel to stop."""
        while True:
            await asyncio.sleep(CHECK_EVERY_S)
            if self._due() and not self._core.has_failed:
                await self.take()

    async def take(self) -> bool:
        """Take a snapshot at the durable head in a child process, then upkeep; True if taken."""
        place = self._place
        if place is None:
            return False
        self._last_taken = time.monotonic()
        upto = place.durable_head
        try:
            taken = await place.take(upto, self._version)
        except SnapshotChildError as exc:
            log.warning("snapshot at %d failed, next try in %.0f s: %s", upto, RETRY_AFTER_S, exc)
            self._retry_at = time.monotonic() + RETRY_AFTER_S
            return False
        self.offset = taken.offset
        log.info(
            "snapshot offset=%d bytes=%d folded=%d child_s=%.3f",
            taken.offset,
            taken.payload_bytes,
            taken.folded,
            taken.seconds,
        )
        # Its own task, so that a shutdown lets the segment being rewritten
        # finish or give up (`close`) instead of closing the log under it.
        self._upkeep = asyncio.create_task(self._log_upkeep(place, taken))
        await asyncio.shield(self._upkeep)
        return True

    async def _log_upkeep(self, place: SnapshotPlace, taken: ChildSnapshot) -> None:
        try:
            await place.upkeep(taken, stop=self._stopping)
        except UpkeepStoppedError:
            log.info("log upkeep stopped: the server is shutting down")
        except (EventStoreError, OSError) as exc:
            log.warning("log upkeep after the snapshot at %d failed: %s", taken.offset, exc)

    # -- shutdown -------------------------------------------------------------------

    async def close(self) -> None:
        """Let log upkeep stop; write a snapshot at the durable head if events came since the last.

        Call once the background task is cancelled and nothing is left to
        change the model (the server is stopping).
        """
        self._stopping.set()
        if self._upkeep is not None:
            await self._upkeep
        place = self._place
        if place is None or self._core.has_failed:
            return
        head = place.durable_head
        if head <= self.offset or head in place.offsets():
            return
        started = time.monotonic()
        payload = encode_model(self._core.model)  # on the loop: nothing else runs now
        try:
            await place.write(head, payload, self._version)
        except (EventStoreError, OSError) as exc:
            log.warning("snapshot at shutdown failed: %s", exc)
            return
        self.offset = head
        log.info(
            "snapshot at shutdown offset=%d bytes=%d duration_s=%.3f",
            head,
            len(payload),
            time.monotonic() - started,
        )
