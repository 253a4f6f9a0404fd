"""Opening a log file: take the lock, create or recover it, cut a torn tail.

How this works
--------------
`open_file` runs in the writer's worker thread. It takes the writer lock,
creates a missing log (header written beside and renamed in), then scans
every frame (`recovery.scan_log`). A torn tail is cut: the cut bytes are
kept in ``<log>.torn-<position>`` and a warning names the position. A
corrupt frame raises CorruptLogError and the log stays as it was, for
`chat-log verify` and `chat-log repair`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from array import array
from typing import Final

from attrs import frozen

from eventstore import lock
from eventstore.errors import CorruptLogError, NotAnEventLogError
from eventstore.fileio import fd_reader, fsync_directory, write_new_file
from eventstore.format import HEADER_BYTES, LOG_ID_BYTES, encode_header, read_exact
from eventstore.recovery import Progress, scan_log

SCAN_REPORT_EVERY_S: Final = 2.0  # a log.scanning line this often while a big log is scanned


@frozen(kw_only=True)
class OpenedFile:
    """A recovered log file, locked, ready for its writer."""

    fd: int
    lock_fd: int
    log_id: str
    index: array[int]
    end: int


def _scan_reporter(path: str, logger: logging.Logger, started: float) -> Progress:
    """Log the scan's progress every few seconds (a big log takes a while)."""
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


def release_abandoned(opening: asyncio.Future[OpenedFile]) -> None:
    if opening.cancelled() or opening.exception() is not None:
        return
    opened = opening.result()
    os.close(opened.fd)
    lock.release(opened.lock_fd)


def open_file(path: str, max_frame_bytes: int, logger: logging.Logger) -> OpenedFile:
    """Lock, create or recover the log (in the worker thread)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    lock_fd = lock.acquire(path)
    try:
        if not os.path.exists(path):
            _create(path, logger)
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        try:
            return _recover(path, fd, lock_fd, max_frame_bytes, logger)
        except BaseException:
            os.close(fd)
            raise
    except BaseException:
        lock.release(lock_fd)
        raise


def _create(path: str, logger: logging.Logger) -> None:
    # Written beside and renamed in, so a crash never leaves half a header.
    temporary = path + ".new"
    with open(temporary, "wb") as file:
        file.write(encode_header(os.urandom(LOG_ID_BYTES)))
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    fsync_directory(path)
    logger.info("log.created path=%s", path)


def _recover(
    path: str, fd: int, lock_fd: int, max_frame_bytes: int, logger: logging.Logger
) -> OpenedFile:
    size = os.fstat(fd).st_size
    if size == 0:
        raise NotAnEventLogError(path, "the file is empty (a log always has a header)")
    started = time.monotonic()
    result = scan_log(
        fd_reader(fd),
        file_size=size,
        path=path,
        max_frame_bytes=max_frame_bytes,
        progress=_scan_reporter(path, logger, started),
    )
    problem = result.problem
    if problem is not None and problem.kind == "corrupt":
        raise CorruptLogError(
            path, offset=problem.offset, position=problem.position, reason=problem.reason
        )
    if problem is not None:
        cut = read_exact(fd_reader(fd), size - result.end, result.end, path=path)
        saved = write_new_file(f"{path}.torn-{result.end}", cut)
        os.ftruncate(fd, result.end)
        os.fsync(fd)
        logger.warning(
            "log.torn_tail_cut path=%s position=%d cut_bytes=%d offset=%d reason=%r saved_to=%s",
            path,
            result.end,
            len(cut),
            problem.offset,
            problem.reason,
            saved,
        )
    logger.info(
        "log.opened path=%s log_id=%s records=%d bytes=%d scan_s=%.3f",
        path,
        result.log_id,
        result.head,
        result.end,
        time.monotonic() - started,
    )
    assert result.end >= HEADER_BYTES
    return OpenedFile(
        fd=fd, lock_fd=lock_fd, log_id=result.log_id, index=result.index, end=result.end
    )
