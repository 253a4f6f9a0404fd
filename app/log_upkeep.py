"""Keeping the log small once snapshots cover it: cursor compaction and retention.

How this works: cursor moves are most of a busy log (every reader persists
its cursor about once a second) and almost all of them are superseded by a
later one. Once a snapshot at N exists, `compact_below` has the store
rewrite each sealed segment wholly below N that was never compacted,
without the `cursor.moved` events the model at N does not need (the
snapshot taker reports the ones it does: `CursorTrail.needed`). Kept events
keep their offsets, so the log has holes; a replay of it folds to the same
state (`tests/projections/test_fold_shortcuts.py`). The events at the
snapshots' own offsets are never dropped (the store checks them). A segment
is rewritten once: what it keeps then (the last moves of users who went
quiet) stays.

Retention (`--retain`, off by default) deletes the oldest sealed segments
once they are older than the retention period and wholly below the oldest
snapshot kept (so the fallback snapshot still verifies). The log then
starts above 1; a poll from before its first offset is answered
`offset_out_of_range` and the client resynchronises.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from array import array
from bisect import bisect_left
from typing import Final

from domain import EVENT_CODECS, CursorMoved
from eventstore import CompactionReport, FileEventLog, Record

log = logging.getLogger("app.log_upkeep")

CURSOR_MOVED: Final = next(c.name for c in EVENT_CODECS if c.cls is CursorMoved)
# Tests only: a compaction waits this long inside its first rewrite,
# so that a test can kill the server in the middle of one.
PAUSE_VARIABLE: Final = "CHAT_TEST_COMPACTION_PAUSE_S"
# The rewrite is Python work in a worker thread: left alone it keeps the GIL
# for the interpreter's switch interval (5 ms) and more at a time, and the
# event loop stalls that long. Giving it up every few records bounds that.
YIELD_EVERY: Final = 64


class UpkeepStoppedError(Exception):
    """The server is stopping: the compaction in progress gives up (safely)."""


def snapshot_offsets(event_log: FileEventLog) -> list[int]:
    """The offsets of the snapshots beside the log, newest first."""
    return event_log.snapshot_store().offsets()


async def compact_below(
    event_log: FileEventLog, below: int, *, needed: array[int], stop: threading.Event
) -> CompactionReport:
    """Drop the superseded cursor moves from the sealed segments wholly below `below`.

    `needed`: the sorted offsets of the cursor moves the model at `below`
    still needs. Setting `stop` makes the rewrite in progress give up.
    Raises UpkeepStoppedError, EventStoreError, OSError.
    """
    kept = set(snapshot_offsets(event_log))
    pause_s = [float(os.environ.get(PAUSE_VARIABLE, "0"))]
    seen = itertools.count()

    def superseded(record: Record) -> bool:  # runs in the store's worker thread
        if pause_s:  # tests only: hold the first rewrite half-done
            time.sleep(pause_s.pop())
        if next(seen) % YIELD_EVERY == 0:
            time.sleep(0)  # let the event loop's thread have the GIL
            if stop.is_set():
                raise UpkeepStoppedError
        if record.name != CURSOR_MOVED or record.offset in kept:
            return False
        at = bisect_left(needed, record.offset)
        return at == len(needed) or needed[at] != record.offset

    report = await event_log.compact(below, superseded, recompact=False)
    if report.segments:
        log.info(
            "compacted below=%d segments=%d dropped=%d", below, len(report.segments), report.dropped
        )
    return report


async def delete_old_segments(event_log: FileEventLog, *, older_than: float) -> list[str]:
    """Delete the sealed segments written before `older_than` (unix time) that snapshots cover.

    A segment counts as written when the next one was started. Raises
    EventStoreError and OSError.
    """
    offsets = snapshot_offsets(event_log)
    if len(offsets) < 2:  # keep a fallback for a snapshot that turns out unusable
        return []
    oldest_snapshot = min(offsets)
    segments = event_log.segments
    below = 0
    for segment, successor in itertools.pairwise(segments):
        ended_s = successor.header.created_ms / 1000
        if ended_s >= older_than or segment.last_offset >= oldest_snapshot:
            break
        below = segment.last_offset + 1
    if not below:
        return []
    deleted = await event_log.delete_segments_below(below)
    log.info("retention deleted=%d log_starts_at=%d", len(deleted), event_log.first_offset)
    return deleted
