"""The segments of an open log, oldest first, and the reads that span them.

The list changes only on the event loop's thread (a roll appends, a
compaction replaces, retention removes); a reader takes a copy of what it
needs when it starts, so a change never pulls a segment from under it.
Replaced and removed segments stay open until the log closes: an iterator
that started on one keeps reading it.
"""

from __future__ import annotations

import zlib
from bisect import bisect_right
from collections.abc import Iterator
from itertools import chain

from eventstore.errors import OffsetOutOfRangeError
from eventstore.format import decode_payload
from eventstore.records import Record
from eventstore.segment import Segment, find_payload, iter_segment


class SegmentSet:
    """Every segment of one log; the last one is the active segment."""

    def __init__(self, segments: list[Segment]) -> None:
        self._segments = segments
        self._retired: list[Segment] = []

    @property
    def active(self) -> Segment:
        return self._segments[-1]

    @property
    def first_offset(self) -> int:
        return self._segments[0].base_offset

    @property
    def size_bytes(self) -> int:
        return sum(s.file_size if s.sealed else s.data_end for s in self._segments)

    def all(self) -> list[Segment]:
        """A copy of the list, oldest first."""
        return list(self._segments)

    def sealed(self) -> list[Segment]:
        return self._segments[:-1]

    def _holding(self, offset: int, segments: list[Segment]) -> int:
        bases = [s.base_offset for s in segments]
        return max(bisect_right(bases, offset) - 1, 0)

    def add(self, segment: Segment) -> None:
        self._segments.append(segment)

    def replace(self, old: Segment, new: Segment) -> None:
        self._segments[self._segments.index(old)] = new
        self._retired.append(old)

    def remove(self, segment: Segment) -> None:
        self._segments.remove(segment)
        self._retired.append(segment)

    def close(self) -> None:
        for segment in (*self._segments, *self._retired):
            segment.close()

    def read(self, offset: int, head: int) -> Record:
        """The durable record at `offset`. Raises OffsetOutOfRangeError, CorruptLogError."""
        segments = self._segments
        segment = segments[self._holding(offset, segments)]
        found = find_payload(segment, offset, segment.data_end)
        if found is None:  # dropped by compaction
            raise OffsetOutOfRangeError(offset, head)
        payload, position = found
        return decode_payload(payload, path=segment.path, expected_offset=offset, position=position)

    def payload_checksum(self, offset: int, durable_head: int) -> int | None:
        """The crc32 of the stored payload at `offset`; None when it is not held (any thread)."""
        segments = list(self._segments)
        if not segments[0].base_offset <= offset <= durable_head:
            return None
        segment = segments[self._holding(offset, segments)]
        found = find_payload(segment, offset, segment.data_end)
        return None if found is None else zlib.crc32(found[0])

    def iter_from(self, first: int, last: int) -> Iterator[Record]:
        """Records `first`..`last` (holes skipped); the segments and their ends are fixed now."""
        segments = self._segments
        plan = [
            (s, s.data_end)
            for s in segments[self._holding(first, segments) :]
            if s.base_offset <= last
        ]
        return chain.from_iterable(iter_segment(s, first, last, end) for s, end in plan)
