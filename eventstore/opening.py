"""Opening a log: take the lock, create, upgrade or recover it, cut an unacknowledged tail.

How this works
--------------
A log is a directory of segment files named by their base offset. `open_log`
runs in the writer's worker thread:

1. Take the writer lock (``<log>.lock`` beside the directory).
2. A format-1 log (one file at the log's path) is upgraded to a directory
   first, keeping the old file as a backup (see `upgrade`). A missing log is
   created (a directory built under a temporary name and renamed in).
3. Leftovers of an interrupted roll or compaction (``*.new``,
   ``*.compact``) are removed: the renames that would have made them count
   never happened.
4. Every segment but the newest must be sealed: its seal (56 bytes and a
   sparse index) is read and checked; no record is read. Their ranges must
   follow each other with no gap. All must carry the same log id.
5. The newest segment is the active one: its rounds are scanned (see
   `recovery`). An unacknowledged tail is cut (kept beside it in
   ``<segment>.torn-<position>``) and logged; corruption refuses to open.
   A newest segment that is sealed (a crash between a seal and the next
   segment's creation) gets a new, empty active segment after it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Final

from attrs import frozen

from eventstore import lock
from eventstore.errors import CorruptLogError, NotAnEventLogError
from eventstore.fileio import cut_tail, fd_reader, fsync_directory
from eventstore.format import LOG_ID_BYTES
from eventstore.recovery import Progress, RoundScan, classify_tail, scan_rounds
from eventstore.segment import Segment, open_sealed, segment_base
from eventstore.segment_codec import SEGMENT_HEADER_BYTES, SegmentHeader, decode_segment_header
from eventstore.segment_file import NEW_SUFFIX, create_segment
from eventstore.upgrade import finish_interrupted_upgrade, upgrade_file

SCAN_REPORT_EVERY_S: Final = 2.0  # a log.scanning line this often while a big segment is scanned
COMPACT_SUFFIX: Final = ".compact"
TORN_SUFFIX: Final = ".torn-"


@frozen(kw_only=True)
class OpenedLog:
    """A recovered log, locked, ready for its writer: sealed segments, then the active one."""

    lock_fd: int
    log_id: str
    segments: list[Segment]


def open_log(path: str, *, segment_max_bytes: int, logger: logging.Logger) -> OpenedLog:
    """Lock, create, upgrade or recover the log at `path` (in a worker thread).

    Raises LogLockedError, CorruptLogError, NotAnEventLogError,
    UnsupportedFormatError and OSError.
    """
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    lock_fd = lock.acquire(path)
    try:
        finish_interrupted_upgrade(path, logger)
        if os.path.isfile(path):
            upgrade_file(path, segment_max_bytes=segment_max_bytes, logger=logger)
        elif not os.path.exists(path):
            _create(path, logger)
        log_id, segments = _recover(path, logger)
        return OpenedLog(lock_fd=lock_fd, log_id=log_id, segments=segments)
    except BaseException:
        lock.release(lock_fd)
        raise


async def open_in_thread(
    executor: ThreadPoolExecutor, path: str, *, segment_max_bytes: int, logger: logging.Logger
) -> OpenedLog:
    """Run `open_log` in the writer's `executor`; shut the executor down if it fails.

    A cancelled open goes on in its thread and releases what it took once
    done. Raises what `open_log` raises.
    """
    opening = asyncio.get_running_loop().run_in_executor(
        executor, lambda: open_log(path, segment_max_bytes=segment_max_bytes, logger=logger)
    )
    try:
        return await asyncio.shield(opening)
    except asyncio.CancelledError:
        opening.add_done_callback(_release_abandoned)
        executor.shutdown(wait=False)
        raise
    except BaseException:
        executor.shutdown(wait=True)
        raise


def _release_abandoned(opening: asyncio.Future[OpenedLog]) -> None:
    if not opening.cancelled() and opening.exception() is None:
        release(opening.result())


def release(opened: OpenedLog) -> None:
    """Close what an open that nobody will use took (its segments and the lock)."""
    for segment in opened.segments:
        segment.close()
    lock.release(opened.lock_fd)


def _create(path: str, logger: logging.Logger) -> None:
    building = path + NEW_SUFFIX
    shutil.rmtree(building, ignore_errors=True)
    os.mkdir(building)
    first = create_segment(building, os.urandom(LOG_ID_BYTES).hex(), 1)
    first.close()
    fsync_directory(os.path.join(building, "x"))
    os.rename(building, path)
    fsync_directory(path)
    logger.info("log.created path=%s", path)


def segment_files(directory: str) -> list[tuple[int, str]]:
    """The (base offset, path) of every segment file in `directory`, by base offset."""
    found = []
    for name in os.listdir(directory):
        base = segment_base(name)
        if base is not None:
            found.append((base, os.path.join(directory, name)))
    return sorted(found)


def _remove_leftovers(directory: str, logger: logging.Logger) -> None:
    for name in os.listdir(directory):
        if name.endswith((NEW_SUFFIX, COMPACT_SUFFIX)):
            os.unlink(os.path.join(directory, name))
            logger.warning("log.leftover_removed path=%s", os.path.join(directory, name))


def open_segment(path: str, *, writable: bool) -> tuple[Segment | None, int, int]:
    """Open one segment file: the sealed segment (or None if unsealed), its fd and size.

    Raises NotAnEventLogError, UnsupportedFormatError and OSError.
    """
    fd = os.open(path, (os.O_RDWR if writable else os.O_RDONLY) | os.O_CLOEXEC)
    try:
        size = os.fstat(fd).st_size
        header = decode_segment_header(os.pread(fd, SEGMENT_HEADER_BYTES, 0), path=path)
        return open_sealed(path, fd, header, size), fd, size
    except BaseException:
        os.close(fd)
        raise


def _recover(path: str, logger: logging.Logger) -> tuple[str, list[Segment]]:
    if not os.path.isdir(path):
        raise NotAnEventLogError(path, "neither a log directory nor a format-1 log file")
    _remove_leftovers(path, logger)
    files = segment_files(path)
    if not files:
        raise NotAnEventLogError(path, "the log directory holds no segment")
    segments: list[Segment] = []
    try:
        for n, (base, segment_path) in enumerate(files):
            segments.append(
                _open_one(segment_path, base, newest=n == len(files) - 1, logger=logger)
            )
            _check_follows(segments)
        if segments[-1].sealed:
            last = segments[-1]
            segments.append(create_segment(path, last.header.log_id, last.last_offset + 1))
            logger.warning("log.new_active_segment path=%s (the last roll was interrupted)", path)
    except BaseException:
        for segment in segments:
            segment.close()
        raise
    return segments[0].header.log_id, segments


def _open_one(path: str, base: int, *, newest: bool, logger: logging.Logger) -> Segment:
    sealed, fd, size = open_segment(path, writable=newest)
    if sealed is not None:
        return sealed
    if not newest:
        os.close(fd)
        raise CorruptLogError(
            path,
            offset=base,
            position=size,
            reason="a segment before the newest is not sealed (its seal is missing or damaged)",
        )
    return _recover_active(path, fd, size, logger)


def _check_follows(segments: list[Segment]) -> None:
    if len(segments) < 2:
        return
    before, after = segments[-2], segments[-1]
    if after.header.log_id != before.header.log_id:
        raise CorruptLogError(
            after.path,
            offset=after.base_offset,
            position=0,
            reason=f"log id {after.header.log_id} differs from {before.header.log_id}",
        )
    if after.base_offset != before.last_offset + 1:
        raise CorruptLogError(
            after.path,
            offset=before.last_offset + 1,
            position=0,
            reason=f"offsets {before.last_offset + 1}..{after.base_offset - 1} are missing "
            "(a segment is gone)",
        )


def _scan_reporter(path: str, logger: logging.Logger, started: float) -> Progress:
    """Log the scan's progress every few seconds (a big segment takes a while)."""
    next_report = started + SCAN_REPORT_EVERY_S

    def report(scanned_bytes: int, file_bytes: int) -> None:
        nonlocal next_report
        now = time.monotonic()
        if now >= next_report:
            next_report = now + SCAN_REPORT_EVERY_S
            logger.info(
                "log.scanning path=%s scanned_bytes=%d file_bytes=%d elapsed_s=%.1f",
                path,
                scanned_bytes,
                file_bytes,
                now - started,
            )

    return report


def _recover_active(path: str, fd: int, size: int, logger: logging.Logger) -> Segment:
    header = decode_segment_header(os.pread(fd, SEGMENT_HEADER_BYTES, 0), path=path)
    pread = fd_reader(fd)
    started = time.monotonic()
    scan = scan_rounds(
        pread,
        start=SEGMENT_HEADER_BYTES,
        file_size=size,
        next_offset=header.base_offset,
        dense=not header.compacted,  # a compacted segment is active only after a repair
        progress=_scan_reporter(path, logger, started),
    )
    if scan.problem is not None:
        problem = classify_tail(pread, problem=scan.problem, file_size=size)
        if problem.kind == "corrupt":
            os.close(fd)
            raise CorruptLogError(
                path, offset=problem.offset, position=problem.position, reason=problem.reason
            )
        cut_tail(
            fd,
            path,
            end=scan.end,
            size=size,
            offset=problem.offset,
            reason=problem.reason,
            logger=logger,
        )
    logger.info(
        "log.opened path=%s records=%d bytes=%d scan_s=%.3f",
        path,
        scan.records,
        scan.end,
        time.monotonic() - started,
    )
    return active_segment(path, fd, header, scan)


def active_segment(path: str, fd: int, header: SegmentHeader, scan: RoundScan) -> Segment:
    """The view of an unsealed segment, from the scan of its rounds (up to its good end)."""
    return Segment(
        path=path,
        fd=fd,
        header=header,
        sealed=False,
        data_end=scan.end,
        last_offset=scan.next_offset - 1,
        records=scan.records,
        index_offsets=scan.round_offsets,
        index_positions=scan.round_positions,
        data_crc=scan.data_crc,
        file_size=scan.end,
    )
