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

from eventstore import lock, recovery
from eventstore.errors import EventStoreError
from eventstore.fileio import copy_durably, fd_reader, free_name, fsync_directory
from eventstore.format import (
    DEFAULT_MAX_FRAME_BYTES,
    FRAME_HEADER,
    FRAME_HEADER_BYTES,
    PRead,
    frame_checksum,
    read_exact,
)
from eventstore.legacy import Problem, payload_offset, scan_frames, scan_log
from eventstore.opening import active_segment, open_segment, segment_files
from eventstore.recovery import scan_rounds
from eventstore.segment_codec import (
    ROUND_MAGIC,
    SEGMENT_HEADER_BYTES,
    decode_round_header,
    decode_segment_header,
)
from eventstore.segment_file import seal_bytes
from eventstore.segment_reader import SegmentLogReader

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
    problem: Problem | recovery.Problem | None
    kept_records: int
    cut_from: int  # the position the file would be cut at (its size when nothing is cut)
    cut_bytes: int
    readable_after: Salvage | None  # readable frames past the bad one (lost by the cut)
    backup_path: str  # where the copy of the whole file goes before the cut
    later_segments: tuple[str, ...] = ()  # a log directory: segments after the broken one
    reseal: bool = False  # only the seal of a segment before the newest is bad: write it again

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


def find_rounds_after(
    pread: PRead, *, position: int, file_size: int, offset: int
) -> Salvage | None:
    """The run of whole rounds after the broken round at `position` in a segment, if any."""
    start = position + 1
    rest = read_exact(pread, file_size - start, start, path="log") if file_size > start else b""
    hit = rest.find(ROUND_MAGIC)
    while hit >= 0:
        header = decode_round_header(rest, hit)
        if header is not None and header.count and header.first_offset > offset:
            scan = scan_rounds(
                pread, start=start + hit, file_size=file_size, next_offset=header.first_offset
            )
            if scan.records:
                return Salvage(first_offset=header.first_offset, last_offset=scan.next_offset - 1)
        hit = rest.find(ROUND_MAGIC, hit + 1)
    return None


def plan_directory_repair(path: str, *, now: Callable[[], dt.datetime] | None = None) -> RepairPlan:
    """Scan a log directory fully and say what a repair would cut (see `plan_repair`).

    Raises NotAnEventLogError, UnsupportedFormatError and OSError.
    """
    stamp = (now or (lambda: dt.datetime.now(dt.UTC)))().strftime("%Y%m%dT%H%M%SZ")
    with SegmentLogReader(path) as reader:
        reader.scan(full=True)
        problem = reader.problem
        kept = sum(s.records for s in reader.segments[:-1])
        if problem is None:
            kept += reader.segments[-1].records if reader.segments else 0
            return RepairPlan(
                path=path,
                problem=None,
                kept_records=kept,
                cut_from=reader.end,
                cut_bytes=0,
                readable_after=None,
                backup_path=free_name(f"{path}.bak-{stamp}"),
            )
        broken = problem.path
        size = os.path.getsize(broken)
        if problem.seal_only:
            return RepairPlan(
                path=broken,
                problem=problem,
                kept_records=kept + reader.segments[-1].records,
                cut_from=problem.position,
                cut_bytes=size - problem.position,
                readable_after=None,
                backup_path=free_name(f"{path}.bak-{stamp}"),
                reseal=True,
            )
        later = [p for base, p in segment_files(path) if p > broken]
        salvage = None
        if problem.position:
            salvage = find_rounds_after(
                reader.segments[-1].pread,
                position=problem.position,
                file_size=size,
                offset=problem.offset,
            )
        kept += reader.segments[-1].records if problem.position else 0
    later_records = _records_in(later)
    if later_records:
        first = salvage.first_offset if salvage else problem.offset + 1
        salvage = Salvage(first_offset=first, last_offset=later_records[-1])
    return RepairPlan(
        path=broken,
        problem=problem,
        kept_records=kept,
        cut_from=problem.position,
        cut_bytes=size - problem.position + sum(os.path.getsize(p) for p in later),
        readable_after=salvage,
        backup_path=free_name(f"{path}.bak-{stamp}"),
        later_segments=tuple(later),
    )


def _reseal(path: str, *, last_offset: int) -> None:
    """Cut a segment's damaged seal and write it again from a scan of its (whole) rounds."""
    fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    try:
        header = decode_segment_header(os.pread(fd, SEGMENT_HEADER_BYTES, 0), path=path)
        scan = scan_rounds(
            fd_reader(fd),
            start=SEGMENT_HEADER_BYTES,
            file_size=os.fstat(fd).st_size,
            next_offset=header.base_offset,
            dense=not header.compacted,
        )
        segment = active_segment(path, fd, header, scan)
        segment.last_offset = last_offset
        os.ftruncate(fd, scan.end)
        os.pwrite(fd, seal_bytes(segment), scan.end)
        os.fsync(fd)
    finally:
        os.close(fd)


def _records_in(paths: list[str]) -> list[int]:
    """The last offset of each readable segment in `paths` (stopping at the first unreadable)."""
    lasts = []
    for path in paths:
        try:
            sealed, fd, size = open_segment(path, writable=False)
        except (EventStoreError, OSError):
            break
        try:
            if sealed is not None:
                lasts.append(sealed.last_offset)
            else:
                header = decode_segment_header(os.pread(fd, SEGMENT_HEADER_BYTES, 0), path=path)
                scan = scan_rounds(
                    fd_reader(fd),
                    start=SEGMENT_HEADER_BYTES,
                    file_size=size,
                    next_offset=header.base_offset,
                )
                lasts.append(scan.next_offset - 1)
        finally:
            os.close(fd)
    return lasts


def repair_directory(
    path: str,
    *,
    confirm: Callable[[RepairPlan], bool] = lambda plan: True,
    now: Callable[[], dt.datetime] | None = None,
) -> RepairReport:
    """Cut a log directory after its last good round if `confirm` agrees, backing up first.

    The broken segment is copied into the backup directory and cut; the
    segments after it are moved there whole. Raises LogLockedError,
    NotAnEventLogError, UnsupportedFormatError and OSError.
    """
    lock_fd = lock.acquire(path)
    try:
        plan = plan_directory_repair(path, now=now)
        if plan.problem is None or not confirm(plan):
            return RepairReport(plan=plan, cut=False, backup_path=None)
        os.mkdir(plan.backup_path)
        broken = plan.path
        copy_durably(broken, os.path.join(plan.backup_path, os.path.basename(broken)))
        for moved in plan.later_segments:
            os.rename(moved, os.path.join(plan.backup_path, os.path.basename(moved)))
        if plan.reseal:
            _reseal(broken, last_offset=plan.problem.offset - 1)
        elif plan.cut_from >= SEGMENT_HEADER_BYTES:
            with open(broken, "r+b") as file:
                file.truncate(plan.cut_from)
                os.fsync(file.fileno())
        else:  # the segment itself is unusable (a gap before it, a bad header)
            os.unlink(broken)
        fsync_directory(broken)
        fsync_directory(os.path.join(plan.backup_path, "x"))
        return RepairReport(plan=plan, cut=True, backup_path=plan.backup_path)
    finally:
        lock.release(lock_fd)
