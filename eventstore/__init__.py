"""The append-only event log: records, backends, recovery, offline tools."""

from eventstore.errors import EventStoreError, OffsetOutOfRangeError
from eventstore.file import FileEventLog
from eventstore.file_errors import (
    CorruptLogError,
    LogFailedError,
    LogLockedError,
    NotAnEventLogError,
    RecordTooLargeError,
    UnsupportedFormatError,
)
from eventstore.memory import MemoryEventLog
from eventstore.records import EventLog, FsyncPolicy, NewRecord, PendingAppend, Record

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
]
