"""The append-only event log: records, backends, recovery, offline tools."""

from eventstore.errors import EventStoreError, OffsetOutOfRangeError
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
]
