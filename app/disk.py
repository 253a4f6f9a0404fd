"""The free-space floor: below it nothing is written, so a full disk never stops the server.

How this works: before a write (a command that appends events, or an upload
that stores bytes) the app asks `DiskFloor.check`, which reads the free
space of the data directory's file system (`os.statvfs`, at most once per
`CHECK_EVERY_S` while there is room, every time below the floor) and raises
InsufficientStorageError (507) when the write would leave less than the
floor. Reads never ask, so they keep working. The server's own small
writes (cursor moves, sign-outs, due deliveries) may go below the floor down
to a hard floor (`HARD_FLOOR_BYTES`, or the floor if lower): the log must
never meet a full disk, because a failed append stops the server (the read
model already holds the events), so below the hard floor nothing at all is
written, and those writes wait for room. A restart needs no free space.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from domain import InsufficientStorageError

CHECK_EVERY_S = 1.0
HARD_FLOOR_BYTES = 4 * 1024 * 1024


def free_bytes(path: Path) -> int:
    """Free bytes for an unprivileged writer on the file system holding `path`.

    A path that does not exist yet is measured at its nearest existing parent.
    """
    while not path.exists() and path != path.parent:
        path = path.parent
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


class DiskFloor:
    """Refuses writes that would leave less than `floor_bytes` free under `path`."""

    def __init__(
        self,
        path: Path,
        floor_bytes: int,
        *,
        measure: Callable[[Path], int] = free_bytes,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._path = path
        self._floor = floor_bytes
        self._measure = measure
        self._clock = clock
        self._free = -1
        self._measured_at = -CHECK_EVERY_S

    @property
    def floor_bytes(self) -> int:
        return self._floor

    def free(self) -> int:
        """The free bytes, measured at most once per CHECK_EVERY_S while above the floor."""
        now = self._clock()
        if self._free < self._floor * 2 or now - self._measured_at >= CHECK_EVERY_S:
            self._free, self._measured_at = self._measure(self._path), now
        return self._free

    def room_left(self) -> int:
        """Bytes that can still be written before the floor, measured now (no floor: unbounded).

        An upload asks before each buffer it writes: uploads are where the
        bytes are, so they never trust a measure a second old.
        """
        if self._floor <= 0:
            return 2**63
        self._free, self._measured_at = self._measure(self._path), self._clock()
        return self._free - self._floor

    def check(self, more_bytes: int = 0, *, hard: bool = False) -> None:
        """Raise InsufficientStorageError unless `more_bytes` can be written above the floor.

        With `hard`, only the hard floor counts (the server's own small writes).
        """
        if self._floor <= 0:
            return
        floor = min(self._floor, HARD_FLOOR_BYTES) if hard else self._floor
        free = self.free()
        if free - more_bytes < floor:
            raise InsufficientStorageError(free, floor)
