"""Repairing a log file: a plan that says what would be cut, then the cut, after a backup.

How this works
--------------
`plan_repair` scans the log read-only. When the scan stops at a bad frame,
everything from that frame's first byte to the end of the file goes. The
plan says how much: the bytes, the offset of the bad frame, and how many
readable frames follow it (found by searching the rest of the file for a
frame whose checksum holds and scanning on from there), so that a human can
tell a torn last frame from a corruption that takes acknowledged records
with it. `repair_log` takes the writer lock, plans, asks `confirm`, copies
the whole file beside it (fsynced), and only then truncates.
"""

from __future__ import annotations

import datetime as dt
import os
from array import array
from collections.abc import Callable
from typing import Final

from attrs import frozen

from eventstore import lock
from eventstore.fileio import copy_durably, fd_reader, free_name
from eventstore.format import (
    DEFAULT_MAX_FRAME_BYTES,
    FRAME_HEADER,
    FRAME_HEADER_BYTES,
    PRead,
    frame_checksum,
    read_exact,
)
from eventstore.legacy import Problem, payload_offset, scan_frames, scan_log

_ARRAY4: Final = b"\x94"  # every payload starts with a msgpack array of 4
_MIN_PAYLOAD_BYTES: Final = 6


@frozen(kw_only=True)
class Salvage:
    """Readable frames found after a bad one: they are cut with it."""

    first_offset: int
    last_offset: int

    @property
    def records(self) -> int:
        return self.last_offset - self.first_offset + 1


@frozen(kw_only=True)
class RepairPlan:
    """What a repair of one log file would do; nothing to do when `problem` is None."""

    path: str
    problem: Problem | None
    kept_records: int
    cut_from: int  # the position the file would be cut at (its size when nothing is cut)
    cut_bytes: int
    readable_after: Salvage | None  # readable frames past the bad one (lost by the cut)
    backup_path: str  # where the copy of the whole file goes before the cut

    @property
    def lost_last_offset(self) -> int | None:
        """The highest offset the cut removes, when any readable frame follows the bad one."""
        return None if self.readable_after is None else self.readable_after.last_offset


@frozen(kw_only=True)
class RepairReport:
    """What `repair_log` did."""

    plan: RepairPlan
    cut: bool  # False: the log was whole, or `confirm` said no
    backup_path: str | None


def find_readable_after(
    pread: PRead, *, position: int, file_size: int, offset: int, max_frame_bytes: int
) -> Salvage | None:
    """The run of whole, checksummed frames after the bad frame at `position`, if any.

    `offset` is the offset the bad frame should carry. Looks for the first
    place past it where a frame with a good checksum and a higher offset
    starts, then scans on from there.
    """
    start = position + 1
    rest = read_exact(pread, file_size - start, start, path="log") if file_size > start else b""
    hit = rest.find(_ARRAY4, FRAME_HEADER_BYTES)
    while hit >= 0:
        frame = hit - FRAME_HEADER_BYTES
        length, crc = FRAME_HEADER.unpack_from(rest, frame)
        end = hit + length
        if _MIN_PAYLOAD_BYTES <= length <= max_frame_bytes and end <= len(rest):
            payload = rest[hit:end]
            number = payload_offset(payload)
            good = frame_checksum(rest[frame:hit], payload) == crc
            if good and number is not None and number > offset:
                index: array[int] = array("Q", bytes(8 * (number - 1)))
                scan_frames(
                    pread,
                    index,
                    start=start + frame,
                    file_size=file_size,
                    max_frame_bytes=max_frame_bytes,
                )
                return Salvage(first_offset=number, last_offset=len(index))
        hit = rest.find(_ARRAY4, hit + 1)
    return None


def plan_repair(
    path: str,
    pread: PRead,
    *,
    file_size: int,
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
    now: Callable[[], dt.datetime] | None = None,
) -> RepairPlan:
    """Scan the log and say what a repair would cut.

    Raises NotAnEventLogError and UnsupportedFormatError when the header
    itself is bad (nothing to salvage automatically), and OSError.
    """
    result = scan_log(pread, file_size=file_size, path=path, max_frame_bytes=max_frame_bytes)
    problem = result.problem
    stamp = (now or (lambda: dt.datetime.now(dt.UTC)))().strftime("%Y%m%dT%H%M%SZ")
    salvage = None
    if problem is not None:
        salvage = find_readable_after(
            pread,
            position=problem.position,
            file_size=file_size,
            offset=problem.offset,
            max_frame_bytes=max_frame_bytes,
        )
    return RepairPlan(
        path=path,
        problem=problem,
        kept_records=result.head,
        cut_from=result.end,
        cut_bytes=file_size - result.end,
        readable_after=salvage,
        backup_path=free_name(f"{path}.bak-{stamp}"),
    )


def repair_log(
    path: str,
    *,
    confirm: Callable[[RepairPlan], bool] = lambda plan: True,
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
    now: Callable[[], dt.datetime] | None = None,
) -> RepairReport:
    """Cut the log after its last good frame if `confirm` agrees, keeping a full backup first.

    The writer lock is held from the scan to the cut, so no server can
    append in between. Raises LogLockedError when a writer holds the log,
    NotAnEventLogError and UnsupportedFormatError when the header is bad,
    and OSError.
    """
    lock_fd = lock.acquire(path)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        try:
            plan = plan_repair(
                path,
                fd_reader(fd),
                file_size=os.fstat(fd).st_size,
                max_frame_bytes=max_frame_bytes,
                now=now,
            )
            if plan.problem is None or not confirm(plan):
                return RepairReport(plan=plan, cut=False, backup_path=None)
            backup = copy_durably(path, plan.backup_path)
            os.ftruncate(fd, plan.cut_from)
            os.fsync(fd)
            return RepairReport(plan=plan, cut=True, backup_path=backup)
        finally:
            os.close(fd)
    finally:
        lock.release(lock_fd)
