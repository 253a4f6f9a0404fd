"""`repair_log`: cut a log after its last good frame, keeping a backup first."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable

from attrs import frozen

from eventstore import lock
from eventstore.fileio import copy_durably, fd_reader
from eventstore.format import DEFAULT_MAX_FRAME_BYTES
from eventstore.recovery import Problem, scan_log


@frozen(kw_only=True)
class RepairReport:
    """What `repair_log` did."""

    problem: Problem | None  # None: the log was whole and nothing was cut
    kept_records: int
    cut_from: int  # the position the file was cut at (= its size when nothing was cut)
    cut_bytes: int
    backup_path: str | None


def repair_log(
    path: str,
    *,
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
    now: Callable[[], dt.datetime] | None = None,
) -> RepairReport:
    """Cut the log after its last good frame, keeping a full backup copy first.

    Raises LogLockedError when a writer holds the log, NotAnEventLogError and
    UnsupportedFormatError when the header itself is bad (nothing to salvage
    automatically), and OSError.
    """
    lock_fd = lock.acquire(path)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        try:
            size = os.fstat(fd).st_size
            result = scan_log(
                fd_reader(fd), file_size=size, path=path, max_frame_bytes=max_frame_bytes
            )
            if result.problem is None:
                return RepairReport(
                    problem=None,
                    kept_records=result.head,
                    cut_from=size,
                    cut_bytes=0,
                    backup_path=None,
                )
            stamp = (now or (lambda: dt.datetime.now(dt.UTC)))().strftime("%Y%m%dT%H%M%SZ")
            backup = copy_durably(path, f"{path}.bak-{stamp}")
            os.ftruncate(fd, result.end)
            os.fsync(fd)
            return RepairReport(
                problem=result.problem,
                kept_records=result.head,
                cut_from=result.end,
                cut_bytes=size - result.end,
                backup_path=backup,
            )
        finally:
            os.close(fd)
    finally:
        lock.release(lock_fd)
