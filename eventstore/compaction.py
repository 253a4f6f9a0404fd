"""Compaction and retention of sealed segments, crash-safe at every step.

How this works
--------------
Compaction rewrites one sealed segment without the records a predicate
drops. The kept records keep their offsets (a compacted segment may have
holes; its header says it is compacted) and the rewritten segment covers
the same range as the old one (its seal carries the old first and last
offsets), so the segments still follow each other with no gap. The new
file is written as ``<segment>.compact``, sealed and fsynced, then renamed
over the old one and the directory fsynced. A kill at any point leaves
either the old segment or the whole new one at the segment's name; a
leftover ``.compact`` file is removed at the next open. Readers that
started on the old file keep reading it (its descriptor stays open until
the log closes).

Retention deletes whole sealed segments, oldest first, so what remains is
always a contiguous range of offsets; the log then starts at the first
offset of its oldest segment.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Iterator

from attrs import define, field

from eventstore.fileio import fsync_directory
from eventstore.records import Record
from eventstore.segment import Segment, iter_rounds, round_payloads
from eventstore.segment_file import SegmentBuilder, create_segment
from eventstore.segment_set import SegmentSet

COMPACT_SUFFIX = ".compact"


@define
class CompactionReport:
    """What a compaction did: per rewritten segment, records before and after."""

    segments: list[tuple[str, int, int]] = field(factory=list)  # (path, before, after)

    def add(self, old: Segment, new: Segment) -> None:
        self.segments.append((new.path, old.records, new.records))

    @property
    def dropped(self) -> int:
        return sum(before - after for _, before, after in self.segments)


def raw_records(segment: Segment) -> Iterator[tuple[Record, bytes]]:
    """Every record of a segment with its stored payload bytes. Raises CorruptLogError."""
    for first, count, body, position in iter_rounds(
        segment, segment.start_position(0), segment.data_end
    ):
        if count:
            yield from round_payloads(segment, body, first, position)


def rewrite_segment(
    old: Segment, drop: Callable[[Record], bool], logger: logging.Logger
) -> Segment:
    """Write a copy of sealed `old` without the dropped records and rename it in.

    Raises CorruptLogError and OSError (the old segment is then untouched).
    """
    assert old.sealed
    directory = os.path.dirname(old.path)
    name = os.path.basename(old.path) + COMPACT_SUFFIX
    new = create_segment(
        directory,
        old.header.log_id,
        old.base_offset,
        created_ms=old.header.created_ms,
        compacted=True,
        name=name,
    )
    try:
        builder = SegmentBuilder(new)
        builder.add_all((r.offset, payload) for r, payload in raw_records(old) if not drop(r))
        builder.seal(last_offset=old.last_offset)
        os.replace(new.path, old.path)
        new.path = old.path
        fsync_directory(old.path)
    except BaseException:
        new.close()
        raise
    logger.info(
        "log.compacted path=%s records_before=%d records_after=%d",
        old.path,
        old.records,
        new.records,
    )
    return new


async def compact(
    segments: SegmentSet,
    below: int,
    drop: Callable[[Record], bool],
    *,
    logger: logging.Logger,
    check_open: Callable[[], None],
    recompact: bool = True,
) -> CompactionReport:
    """Rewrite each sealed segment wholly below `below`, one at a time, in a worker thread.

    With `recompact` false, segments compacted before are left as they are.
    Raises CorruptLogError, what `check_open` raises, and OSError.
    """
    report = CompactionReport()
    doomed = [s for s in segments.sealed() if s.last_offset < below]
    for old in [s for s in doomed if recompact or not s.compacted]:
        check_open()
        new = await asyncio.to_thread(rewrite_segment, old, drop, logger)
        report.add(old, new)
        segments.replace(old, new)
    return report


async def delete_below(
    segments: SegmentSet, offset: int, *, logger: logging.Logger, check_open: Callable[[], None]
) -> list[str]:
    """Delete the sealed segments wholly below `offset`, oldest first; return their paths.

    Raises what `check_open` raises, and OSError.
    """
    doomed = []
    for segment in segments.sealed():
        if segment.last_offset >= offset:
            break
        doomed.append(segment)
    for segment in doomed:
        check_open()
        await asyncio.to_thread(delete_segment, segment, logger)
        segments.remove(segment)
    return [s.path for s in doomed]


def delete_segment(segment: Segment, logger: logging.Logger) -> None:
    """Delete one sealed segment file (retention). Raises OSError."""
    assert segment.sealed
    os.unlink(segment.path)
    fsync_directory(segment.path)
    logger.info(
        "log.segment_deleted path=%s offsets=%d..%d",
        segment.path,
        segment.base_offset,
        segment.last_offset,
    )
