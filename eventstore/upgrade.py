"""Upgrading a format-1 log (one file of frames) to format 2 (a directory of segments).

How this works
--------------
The old file is recovered by the format-1 rules first (a torn tail cut and
kept, corruption refused: then nothing is upgraded). Its payloads are the
records of format 2 byte for byte, so they are copied into rounds and
segments without being decoded, in a directory built beside the log
(``<log>.upgrading``), fsynced. Then two renames: the old file to
``<log>.v1-backup-<UTC stamp>``, the new directory to the log's path, and
the parent directory is fsynced. A crash before the first rename leaves the
old file in place (the half-built directory is removed at the next open);
a crash between the renames leaves no log at the path but a whole
``.upgrading`` directory, which the next open renames in. The backup stays
until an operator deletes it (the warning says so).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
from typing import Final

from eventstore.errors import CorruptLogError, NotAnEventLogError
from eventstore.fileio import cut_tail, fd_reader, free_name, fsync_directory
from eventstore.format import DEFAULT_MAX_FRAME_BYTES, FRAME_HEADER_BYTES, iter_blocks
from eventstore.legacy import scan_log
from eventstore.segment_file import SegmentBuilder, create_segment

UPGRADING_SUFFIX: Final = ".upgrading"
BACKUP_INFIX: Final = ".v1-backup-"


def finish_interrupted_upgrade(path: str, logger: logging.Logger) -> None:
    """Finish or undo an upgrade a crash interrupted (see the module's comment)."""
    staging = path + UPGRADING_SUFFIX
    if not os.path.isdir(staging):
        return
    if os.path.exists(path):
        shutil.rmtree(staging)
        logger.warning("log.upgrade_restarted path=%s (an earlier one was interrupted)", path)
    else:
        os.rename(staging, path)
        fsync_directory(path)
        logger.warning("log.upgrade_finished path=%s (the last rename was interrupted)", path)


def upgrade_file(
    path: str,
    *,
    segment_max_bytes: int,
    logger: logging.Logger,
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
) -> str:
    """Turn the format-1 file at `path` into a log directory; return the backup's path.

    Raises CorruptLogError, NotAnEventLogError, UnsupportedFormatError, OSError.
    """
    fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    try:
        size = os.fstat(fd).st_size
        if size == 0:
            raise NotAnEventLogError(path, "the file is empty (a log always has a header)")
        pread = fd_reader(fd)
        result = scan_log(pread, file_size=size, path=path, max_frame_bytes=max_frame_bytes)
        problem = result.problem
        if problem is not None and problem.kind == "corrupt":
            raise CorruptLogError(
                path, offset=problem.offset, position=problem.position, reason=problem.reason
            )
        if problem is not None:
            cut_tail(
                fd,
                path,
                end=result.end,
                size=size,
                offset=problem.offset,
                reason=problem.reason,
                logger=logger,
            )
        staging = path + UPGRADING_SUFFIX
        shutil.rmtree(staging, ignore_errors=True)
        os.mkdir(staging)
        segments = 1
        builder = SegmentBuilder(create_segment(staging, result.log_id, 1))
        try:
            index = result.index
            blocks = iter_blocks(
                pread, index, first=1, last=result.head, end_position=result.end, path=path
            )
            for block_first, block_last, block in blocks if result.head else ():
                base = index[block_first - 1]
                for offset in range(block_first, block_last + 1):
                    start = index[offset - 1] - base + FRAME_HEADER_BYTES
                    end = (index[offset] if offset < result.head else result.end) - base
                    builder.add(offset, block[start:end])
                    if builder.size >= segment_max_bytes and offset < result.head:
                        builder.seal()
                        builder.segment.close()
                        builder = SegmentBuilder(create_segment(staging, result.log_id, offset + 1))
                        segments += 1
            builder.finish_active()
        finally:
            builder.segment.close()
        fsync_directory(os.path.join(staging, "x"))
    finally:
        os.close(fd)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    backup = free_name(f"{path}{BACKUP_INFIX}{stamp}")
    os.rename(path, backup)
    os.rename(staging, path)
    fsync_directory(path)
    logger.warning(
        "log.upgraded path=%s from_format=1 to_format=2 records=%d segments=%d backup=%s "
        "(the old file is kept; delete it once the new log is known good)",
        path,
        result.head,
        segments,
        backup,
    )
    return backup
