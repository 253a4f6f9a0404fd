"""The single-writer lock: an exclusive flock on a lock file beside the log.

A lock file (``events.log.lock``) rather than the log itself, so that the
holder can write its pid there for the error message of the next opener, and
so that read-only tools never touch a lock at all. The file is never deleted:
deleting a lock file races with the next opener. flock locks belong to the
open file description, so a second open in the same process conflicts too.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from typing import Final

from eventstore.errors import LogLockedError

LOCK_SUFFIX: Final = ".lock"
PID_FIELD_BYTES: Final = 16  # Linux pids have at most 7 digits


def lock_path_for(log_path: str) -> str:
    """The lock file guarding the log at `log_path`."""
    return log_path + LOCK_SUFFIX


def holder_pid(log_path: str) -> int | None:
    """The pid the current holder wrote into the lock file, if it can be read."""
    try:
        with open(lock_path_for(log_path), encoding="ascii") as file:
            text = file.read(PID_FIELD_BYTES).strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def acquire(log_path: str) -> int:
    """Take the writer lock; return the lock file's descriptor (close it to release).

    Raises LogLockedError when another open file description holds it, and
    OSError when the lock file cannot be created.
    """
    fd = os.open(lock_path_for(log_path), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise LogLockedError(log_path, holder_pid(log_path)) from None
    except BaseException:
        os.close(fd)
        raise
    with contextlib.suppress(OSError):  # the pid is a hint for humans only
        # Fixed width, so no truncate is needed: on ext4 truncating a file
        # that has data forces a flush and costs a millisecond or more.
        os.pwrite(fd, f"{os.getpid():>{PID_FIELD_BYTES - 1}}\n".encode("ascii"), 0)
    return fd


def release(fd: int) -> None:
    """Release the lock taken by `acquire`."""
    os.close(fd)
