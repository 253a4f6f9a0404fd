"""A replica's snapshots: in its own data directory, verified against the stream; starting from one.

How this works: a replica's snapshots are the file log's (`app.snapshots`:
the same payload, the same code version, the same `SnapshotStore`), kept
in `<data-dir>/jetstream/<stream>/snapshots/` and tied to the stream: the
log id is the stream's, and where the file log checks the checksum of the
record at N, a replica checks the checksum of the body of the stream
message (the round) holding N, read from the stream (`StreamSource`). A
snapshot of another stream, or of a stream reset and filled again, is
refused like one of another log.

Start (`start_from_snapshot`): ask the stream for its head, read the round
of each snapshot's offset, load the newest snapshot that verifies and
decodes (`load_newest`), then follow the stream from the message after
that round, folding each round into the model as it comes and telling no
listener (a replay), until the head as of the start; from then on the core
follows (`Core.follow`). Without a usable snapshot the whole stream is
folded, skipping the messages that will have expired by its last event.

While running (`StreamPlace`, for `app.snapshotting.Snapshots`): every
`--snapshot-every` events or `--snapshot-interval`, a child process
(`app.replica_snapshot_child`) connects to NATS, loads the newest snapshot,
folds the stream from there to the offset it was given and writes the
snapshot at it; the event loop only awaits it. At a clean shutdown the
server writes one itself.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import threading
import time
import zlib
from typing import Final

from app.core import Core
from app.errors import StartupError
from app.service import ChatService
from app.settings import Settings
from app.snapshot_taker import ChildSnapshot, run_snapshot_child
from app.snapshots import code_version, load_newest
from domain import EventDecodeError, decode
from eventstore import (
    EventStoreError,
    JetStreamEventLog,
    Record,
    SnapshotStore,
    StreamReads,
    StreamRound,
)

log = logging.getLogger("app.replica_snapshots")

STORE_DIRECTORY: Final = "jetstream"
PROGRESS_EVERY_S: Final = 3.0


def store_path(data_dir: str | os.PathLike[str], stream: str) -> str:
    """Where a replica of `stream` keeps its snapshots (`SnapshotStore`'s log path)."""
    return os.path.join(os.fspath(data_dir), STORE_DIRECTORY, stream)


class StreamSource:
    """What a replica's snapshots are verified against: the stream, by checksums read first."""

    def __init__(self, path: str, *, log_id: str, durable_head: int, first_offset: int) -> None:
        self.path = path
        self._log_id = log_id
        self._durable_head = durable_head
        self.first_offset = first_offset
        # snapshot offset -> the sequence after which the stream holds the offsets after it
        self.sequences: dict[int, int] = {}
        self._checksums: dict[int, int] = {}

    @property
    def log_id(self) -> str:
        return self._log_id

    @property
    def durable_head(self) -> int:
        return self._durable_head

    def payload_checksum(self, offset: int) -> int | None:
        """The checksum of the round holding `offset`, if it was read."""
        return self._checksums.get(offset)

    def hold(self, offset: int, round_: StreamRound) -> None:
        """Remember the round that holds `offset`."""
        self._checksums[offset] = zlib.crc32(round_.body)
        self.sequences[offset] = round_.seq if offset == round_.last else round_.seq - 1

    def snapshot_store(self) -> SnapshotStore:
        """The snapshots, each verified against what was read of the stream."""
        return SnapshotStore(self.path, self)

    async def read_rounds(self, reads: StreamReads, *, last_seq: int, upto: int) -> None:
        """Read the round of each snapshot's offset up to `upto` from the stream.

        Raises LogUnavailableError and EventStoreError.
        """
        for offset in self.snapshot_store().offsets():
            if 0 < offset <= upto:
                round_ = await reads.holding(offset, last_seq=last_seq)
                if round_ is not None:
                    self.hold(offset, round_)
        self.first_offset = reads.first_offset


def last_ts(round_: StreamRound | None) -> float | None:
    """The time of the last record of a round (None for none, or a fence)."""
    if round_ is None or not round_.count:
        return None
    return round_.records()[-1].ts


class Fold:
    """Fold followed records into the model without telling listeners (a replay)."""

    def __init__(self, core: Core) -> None:
        self._core = core
        self.count = 0
        self._reported = time.monotonic()

    def __call__(self, records: list[Record]) -> None:
        """Apply the records. Raises EventStoreError naming one this code cannot read."""
        model = self._core.model
        for record in records:
            try:
                event = decode(record.name, record.data)
            except EventDecodeError as exc:
                raise EventStoreError(
                    f"cannot read event at offset {record.offset}: {exc}; is this stream "
                    "written by a newer version? (see `chat-log dump --nats`)"
                ) from exc
            model.apply(record.offset, record.ts, event)
        self.count += len(records)
        if (now := time.monotonic()) - self._reported > PROGRESS_EVERY_S:
            self._reported = now
            log.info("replay progress events=%d head=%d", self.count, model.head)


async def start_from_snapshot(
    service: ChatService, event_log: JetStreamEventLog, settings: Settings
) -> None:
    """Load the newest snapshot that holds against the stream, and follow the stream after it.

    Returns caught up with the stream, the core following it. Raises
    StartupError (the stream dropped events no snapshot covers),
    EventStoreError (NATS, or an event this code cannot read).
    """
    started = time.monotonic()
    core = service.core
    last_seq, last = await event_log.reads.last_round()
    head = 0 if last is None else last.first + last.count - 1
    if last is not None and not last.count and head:  # a fence: the round before it
        last = await event_log.reads.holding(head, last_seq=last_seq)
    source = StreamSource(
        store_path(settings.data_dir, settings.nats_stream),
        log_id=event_log.log_id,
        durable_head=head,
        first_offset=event_log.first_offset,
    )
    await source.read_rounds(event_log.reads, last_seq=last_seq, upto=head)
    fold = Fold(core)
    gc.disable()  # as in `Core.replay`: millions of objects that live as long as the process
    try:
        loaded = load_newest(source, code_version(settings), fresh=core.model)
        if loaded.path is None and source.first_offset > 1:
            raise StartupError(
                f"stream {settings.nats_stream} starts at offset {source.first_offset} (its "
                "limits dropped older messages) and no snapshot in the data directory covers "
                "them: start this replica with the data directory of one that has"
            )
        core.model = loaded.model
        service.snapshots.started_from = service.snapshots.offset = loaded.offset
        if head > loaded.offset:
            core.model.fold_until(last_ts(last))
        event_log.follow(fold)
        await event_log.start(after=loaded.offset, seq=source.sequences.get(loaded.offset, 1))
        event_log.follow(core.follow)
        service.polling.recent.start_after(core.durable_head)
    finally:
        gc.enable()
        gc.freeze()
        core.model.fold_until(None)
    if loaded.path is None:
        service.snapshots.started_from = None
    service.replayed_events = fold.count
    service.replay_s = time.monotonic() - started
    log.info(
        "replayed events=%d head=%d duration_s=%.3f snapshot=%s log=%s",
        fold.count,
        core.durable_head,
        service.replay_s,
        loaded.offset if loaded.path else "none",
        event_log.log_id,
    )


class StreamPlace:
    """A replica's snapshots, for `app.snapshotting.Snapshots`."""

    def __init__(self, settings: Settings, event_log: JetStreamEventLog) -> None:
        self._settings = settings
        self._log = event_log
        self.path = store_path(settings.data_dir, settings.nats_stream)

    @property
    def durable_head(self) -> int:
        return self._log.durable_head

    def _source(self, head: int) -> StreamSource:
        return StreamSource(self.path, log_id=self._log.log_id, durable_head=head, first_offset=1)

    async def take(self, upto: int, version: str) -> ChildSnapshot:
        """Run the replica's snapshot child. Raises SnapshotChildError."""
        settings = self._settings
        args = [settings.nats_url, settings.nats_stream, self.path, str(upto), version]
        args += [repr(settings.message_ttl_s), repr(settings.rate_window_s)]
        args += [str(os.getpid()), repr(settings.nats_timeout_s)]
        return await run_snapshot_child("app.replica_snapshot_child", args)

    async def upkeep(self, taken: ChildSnapshot, *, stop: threading.Event) -> None:
        """Nothing: a replica never compacts the stream (never raises)."""

    async def write(self, offset: int, payload: bytes, version: str) -> None:
        """Write a snapshot at `offset` (the head, whose round is held).

        Raises EventStoreError, OSError.
        """
        round_ = self._log.held_round(offset)
        if round_ is None:
            raise EventStoreError(f"no snapshot at {offset}: its round is not held here")
        source = self._source(offset)
        source.hold(offset, round_)
        await asyncio.to_thread(source.snapshot_store().write, offset, payload, version)

    def offsets(self) -> list[int]:
        return self._source(0).snapshot_store().offsets()
