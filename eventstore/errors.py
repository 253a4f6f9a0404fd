"""Every error the event store raises: one base, EventStoreError, and its subclasses.

The backend-neutral ones come first (any EventLog may raise them), then
those of the file log: corruption, locking, format and fatal write failures.
"""

from __future__ import annotations

from typing import Final

REPAIR_HINT: Final = "run `chat-log verify` to inspect it and `chat-log repair` to cut it back"


class EventStoreError(Exception):
    """Base of every event store error."""


class OffsetOutOfRangeError(EventStoreError):
    """An offset that is not in the log."""

    def __init__(self, offset: int, head: int) -> None:
        super().__init__(f"offset {offset} is not in the log (head is {head})")
        self.offset = offset
        self.head = head


class NotLoadedError(EventStoreError):
    """An offset the log holds but this process has not loaded: await the log's `load` first."""

    def __init__(self, offset: int) -> None:
        super().__init__(f"offset {offset} is not loaded here (read it after `load`)")
        self.offset = offset


class CorruptLogError(EventStoreError):
    """A bad frame with valid data after it: the log refuses to open."""

    def __init__(self, path: str, *, offset: int, position: int, reason: str) -> None:
        super().__init__(
            f"{path} is corrupt at offset {offset} (byte position {position}): {reason}; "
            f"{REPAIR_HINT}"
        )
        self.path = path
        self.offset = offset
        self.position = position
        self.reason = reason


class NotAnEventLogError(EventStoreError):
    """The file does not start with the log's magic bytes or its header is damaged."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path} is not an event log: {reason}")
        self.path = path
        self.reason = reason


class UnsupportedFormatError(EventStoreError):
    """The file was written in a format version this code cannot read."""

    def __init__(self, path: str, *, version: int, supported: int) -> None:
        super().__init__(
            f"{path} has log format version {version}, but this program reads only versions "
            f"up to {supported}; upgrade the program (never downgrade a log)"
        )
        self.path = path
        self.version = version
        self.supported = supported


class LogLockedError(EventStoreError):
    """Another writer holds the log's lock."""

    def __init__(self, path: str, pid: int | None) -> None:
        holder = f"pid {pid}?" if pid is not None else "pid unknown"
        super().__init__(
            f"{path} is in use by another process ({holder}); "
            "stop the other server or use another data directory"
        )
        self.path = path
        self.pid = pid


class LogFailedError(EventStoreError):
    """A write or fsync failed: the log refuses every further append (never retried)."""


class WriterFencedError(EventStoreError):
    """Another replica took over writing a shared log and fenced this one out of it.

    The rounds this replica had staged are refused (never stored); the log
    fails with a LogFailedError caused by this. Not a fault of the store: the
    replica can follow the log again from what it holds (`fenced_out`).
    """


def fenced_out(exc: BaseException | None) -> bool:
    """Whether `exc` (or what caused it) is a WriterFencedError."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, WriterFencedError):
            return True
        seen.add(id(exc))
        exc = exc.__cause__
    return False


class RecordTooLargeError(EventStoreError):
    """A record whose frame would exceed the log's frame size cap."""

    def __init__(self, size_bytes: int, max_frame_bytes: int) -> None:
        super().__init__(
            f"a record of {size_bytes} bytes exceeds the frame cap of {max_frame_bytes} bytes"
        )
        self.size_bytes = size_bytes
        self.max_frame_bytes = max_frame_bytes


class LogUnavailableError(EventStoreError):
    """The log cannot take appends now (its remote store is unreachable); retry later.

    Not fatal: what was staged before may still become durable when the store
    is back, so a caller's retry must be idempotent.
    """

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class NotWriterError(EventStoreError):
    """This process is not the log's writer now: another one holds the writer lease."""
