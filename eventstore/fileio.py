"""Small durable-file helpers: positional reads, new files, copies, directory fsyncs."""

from __future__ import annotations

import logging
import os
import shutil

from eventstore.format import PRead, read_exact


def fd_reader(fd: int) -> PRead:
    """A PRead over an open file descriptor."""

    def pread(size: int, position: int) -> bytes:
        return os.pread(fd, size, position)

    return pread


def fsync_directory(path: str) -> None:
    """Make a rename or a new file in `path`'s directory durable."""
    fd = os.open(os.path.dirname(os.path.abspath(path)) or ".", os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_new_file(path: str, data: bytes) -> str:
    """Write `data` to a new file named `path` (or `path`-2, -3, ...) and fsync it."""
    candidate, n = path, 1
    while True:
        try:
            fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
            break
        except FileExistsError:
            n += 1
            candidate = f"{path}-{n}"
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_directory(candidate)
    return candidate


def free_name(name: str) -> str:
    """`name`, or `name`-2, -3, ... : the first that does not exist yet."""
    candidate, n = name, 1
    while os.path.exists(candidate):
        n += 1
        candidate = f"{name}-{n}"
    return candidate


def copy_durably(source: str, target: str) -> str:
    """Copy `source` to a new file `target` (or `target`-2, ...), fsynced; return its name."""
    candidate = free_name(target)
    shutil.copyfile(source, candidate)
    fd = os.open(candidate, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_directory(candidate)
    return candidate


def cut_tail(
    fd: int,
    path: str,
    *,
    end: int,
    size: int,
    offset: int,
    reason: str,
    logger: logging.Logger,
) -> str:
    """Cut the file at `end`, keeping the cut bytes in ``<path>.torn-<end>``; log it.

    Returns where the bytes were kept. Raises OSError.
    """
    cut = read_exact(fd_reader(fd), size - end, end, path=path)
    saved = write_new_file(f"{path}.torn-{end}", cut)
    os.ftruncate(fd, end)
    os.fsync(fd)
    logger.warning(
        "log.torn_tail_cut path=%s position=%d cut_bytes=%d offset=%d reason=%r saved_to=%s",
        path,
        end,
        len(cut),
        offset,
        reason,
        saved,
    )
    return saved
