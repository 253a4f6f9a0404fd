"""Snapshots of the read model: what one holds, how it is encoded, starting from one.

How this works: a snapshot is the whole `ReadModel` at one offset N (the
cursor trail that compaction needs is part of it), pickled (protocol 5),
stored by the log's `SnapshotStore` beside the log. A start loads the newest
snapshot that verifies (the store checks the log id, that N is in the log
and is still the record it was, the checksums and the code version) and
replays only the events after N; each one refused is logged with its reason
and the next older one, or a replay of the whole log, is used instead. The
recent-events window of the polls is refilled from the tail that is
replayed; polls further back read the log, as they always could.

The code version a snapshot is written under names everything the state
depends on: PROJECTION_VERSION (the fold's code), the codec, and the two
settings the model folds with (the message lifetime and the rate window): a
server started with other values replays the log instead.

Why pickle: it restores the model exactly (shared records, sets, deques,
floats) with no code to keep in step with the projections, and in C.
Measured (best of 3, CPU): the model of `bench_replay`'s 1M-event log
(125k direct rooms, 21 MB) loads in 0.19 s and is written in 0.74 s; that
of a realistic 1M-event log (0.8 MB) in 9 ms and 16 ms; 10M events (7 MB)
in 53 ms and 131 ms. An encoding through msgpack would rebuild every
object in Python (slower, and an encoder and decoder per projection to
keep in step). Its cost is that loading a pickle can run code: a snapshot is
trusted exactly as far as the log is, since both live in the data directory,
which is owner-only and refused at start when others may write to it
(`prepare_data_dir`); whoever can replace a snapshot can rewrite the log's
password hashes too. On top of that, the unpickler builds only the classes
of the read model (`_ModelUnpickler`): a payload naming anything else is
refused like a corrupt one.
"""

from __future__ import annotations

import io
import logging
import pickle
from typing import Final

from attrs import frozen

from app.settings import Settings
from eventstore import EventLog, EventStoreError, FileEventLog, ReadOnlyLog, Snapshot
from projections import PROJECTION_VERSION, ReadModel

log = logging.getLogger("app.snapshots")

CODEC: Final = "pickle5"
PICKLE_PROTOCOL: Final = 5
# What a snapshot may name: the read model's classes and the containers they use.
_ALLOWED_MODULES: Final = frozenset(
    {"projections.model", "projections.users", "projections.rooms", "projections.timeline"}
    | {"projections.moderation", "projections.schedule", "projections.cursors"}
)
_ALLOWED_NAMES: Final = frozenset({("collections", "deque"), ("domain.state", "ScheduledState")})


class SnapshotDecodeError(Exception):
    """A payload that is not a read model this code wrote."""


def code_version(settings: Settings) -> str:
    """The version a snapshot of this server's model is written under (and must match)."""
    return (
        f"projections-{PROJECTION_VERSION} {CODEC} "
        f"ttl_s={settings.message_ttl_s!r} rate_window_s={settings.rate_window_s!r}"
    )


def encode_model(model: ReadModel) -> bytes:
    """The snapshot payload of `model`."""
    return pickle.dumps(model, protocol=PICKLE_PROTOCOL)


class _ModelUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> type:
        if module in _ALLOWED_MODULES or (module, name) in _ALLOWED_NAMES:
            found: type = super().find_class(module, name)
            return found
        raise pickle.UnpicklingError(f"a snapshot may not name {module}.{name}")


def decode_model(payload: bytes) -> ReadModel:
    """The read model in a snapshot payload. Raises SnapshotDecodeError.

    Call it with the cyclic GC paused (`gc.disable()`), or the GC walks the
    half-built model again and again; then `gc.freeze()` it (`Core.replay`
    does both).
    """
    try:
        model = _ModelUnpickler(io.BytesIO(payload)).load()  # BytesIO shares the bytes
    except Exception as exc:  # whatever a damaged or foreign pickle raises
        raise SnapshotDecodeError(f"the payload does not decode ({exc!r})") from exc
    if not isinstance(model, ReadModel):
        raise SnapshotDecodeError(f"the payload holds a {type(model).__name__}, not a ReadModel")
    return model


@frozen(kw_only=True)
class Loaded:
    """The model a start begins from: a snapshot's (at `offset`), or a new one (offset 0)."""

    model: ReadModel
    offset: int
    path: str | None


def load_newest(source: FileEventLog | ReadOnlyLog, version: str, *, fresh: ReadModel) -> Loaded:
    """The newest usable snapshot's model, or `fresh` when none is (each refusal logged).

    Raises OSError when the snapshot directory cannot be listed.
    """
    store = source.snapshot_store()
    for snapshot in store.usable(version):
        try:
            return _loaded(snapshot)
        except SnapshotDecodeError as exc:
            store.refuse(snapshot.path, str(exc))
    return Loaded(model=fresh, offset=0, path=None)


def _loaded(snapshot: Snapshot) -> Loaded:
    model = decode_model(snapshot.payload)
    if model.head != snapshot.offset:
        raise SnapshotDecodeError(f"the model is at offset {model.head}, not {snapshot.offset}")
    return Loaded(model=model, offset=snapshot.offset, path=snapshot.path)


def last_event_time(event_log: EventLog) -> float | None:
    """The time of the log's newest durable event (where a replay now would end), if known."""
    head = event_log.durable_head
    if head < 1:
        return None
    try:
        return event_log.read(head).ts
    except EventStoreError:
        return None
