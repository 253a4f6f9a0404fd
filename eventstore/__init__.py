"""The append-only event log: records, backends, recovery, offline tools.

The JetStream backend is imported when one of its names is first used:
nats-py takes longer to import than the rest of the server, and a server on
the file log never needs it.
"""

import importlib
from typing import TYPE_CHECKING, Any

from eventstore.compaction import CompactionReport
from eventstore.contract import EventLog, PendingAppend
from eventstore.errors import (
    CorruptLogError,
    EventStoreError,
    LogFailedError,
    LogLockedError,
    LogUnavailableError,
    NotAnEventLogError,
    NotLoadedError,
    NotWriterError,
    OffsetOutOfRangeError,
    RecordTooLargeError,
    UnsupportedFormatError,
    WriterFencedError,
    fenced_out,
)
from eventstore.file import FileEventLog
from eventstore.memory import MemoryEventLog
from eventstore.records import FsyncPolicy, NewRecord, Record
from eventstore.snapshot import Snapshot, SnapshotInfo, SnapshotStore
from eventstore.snapshot_source import ReadOnlyLog

if TYPE_CHECKING:
    from eventstore.jetstream import DEFAULT_STREAM, JetStreamEventLog
    from eventstore.jetstream_lease import WriterLease
    from eventstore.jetstream_objects import ObjectBucket
    from eventstore.jetstream_reads import StreamReads, StreamView
    from eventstore.jetstream_rounds import StreamRound

_JETSTREAM_NAMES = {
    "DEFAULT_STREAM": "eventstore.jetstream",
    "JetStreamEventLog": "eventstore.jetstream",
    "WriterLease": "eventstore.jetstream_lease",
    "ObjectBucket": "eventstore.jetstream_objects",
    "StreamReads": "eventstore.jetstream_reads",
    "StreamView": "eventstore.jetstream_reads",
    "StreamRound": "eventstore.jetstream_rounds",
}


def __getattr__(name: str) -> Any:
    module = _JETSTREAM_NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'eventstore' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "EventLog",
    "EventStoreError",
    "FsyncPolicy",
    "MemoryEventLog",
    "NewRecord",
    "OffsetOutOfRangeError",
    "PendingAppend",
    "Record",
    # the file backend
    "FileEventLog",
    "CorruptLogError",
    "LogFailedError",
    "LogLockedError",
    "NotAnEventLogError",
    "RecordTooLargeError",
    "UnsupportedFormatError",
    # the JetStream backend (several replicas, one writer at a time)
    "DEFAULT_STREAM",
    "JetStreamEventLog",
    "LogUnavailableError",
    "NotLoadedError",
    "NotWriterError",
    "ObjectBucket",
    "StreamReads",
    "StreamRound",
    "StreamView",
    "WriterFencedError",
    "WriterLease",
    "fenced_out",
    # segments, snapshots, compaction, retention (the file backend)
    "CompactionReport",
    "Snapshot",
    "SnapshotInfo",
    "SnapshotStore",
    "ReadOnlyLog",
]
