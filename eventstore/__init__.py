"""The append-only event log: records, backends, recovery, offline tools."""

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
)
from eventstore.file import FileEventLog
from eventstore.jetstream import DEFAULT_STREAM, JetStreamEventLog
from eventstore.jetstream_lease import WriterLease
from eventstore.jetstream_objects import ObjectBucket
from eventstore.jetstream_reads import StreamReads, StreamView
from eventstore.jetstream_rounds import StreamRound
from eventstore.memory import MemoryEventLog
from eventstore.records import FsyncPolicy, NewRecord, Record
from eventstore.snapshot import Snapshot, SnapshotInfo, SnapshotStore
from eventstore.snapshot_source import ReadOnlyLog

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
    "WriterLease",
    # segments, snapshots, compaction, retention (the file backend)
    "CompactionReport",
    "Snapshot",
    "SnapshotInfo",
    "SnapshotStore",
    "ReadOnlyLog",
]
