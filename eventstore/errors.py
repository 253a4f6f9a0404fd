"""Errors raised by the event store."""

from __future__ import annotations


class EventStoreError(Exception):
    """Base of every event store error."""


class OffsetOutOfRangeError(EventStoreError):
    """An offset that is not in the log."""

    def __init__(self, offset: int, head: int) -> None:
        super().__init__(f"offset {offset} is not in the log (head is {head})")
        self.offset = offset
        self.head = head
