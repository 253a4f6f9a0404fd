"""Taking a snapshot in a child process, so the server's event loop never waits for one.

How this works: the server keeps changing its read model, so it cannot
pickle that model from a thread, and pickling it on the event loop would
stall every request for as long as that takes (about a second for the model
of the 1M-event benchmark log). Instead `take_snapshot` starts
`python -m app.snapshot_child` (a new interpreter: no fork of a process
with threads, nothing shared with the loop) with an offset N the log has
made durable, and awaits it. The child opens the log read-only, loads the
newest snapshot that verifies, folds the events after it up to N with the
same fold, and writes the snapshot at N through the `SnapshotStore`. It
reports on stdout: one line of JSON, then the sorted offsets of the
`cursor.moved` events the model at N still needs (`CursorTrail.needed`) as
8-byte integers, which is what compaction may not drop. Its log lines (on
stderr) are logged here.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
from array import array
from collections.abc import Callable, Sequence
from typing import Final

from attrs import frozen

log = logging.getLogger("app.snapshot_child")

_LEVELS: Final = frozenset({"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"})
PAUSE_VARIABLE: Final = "CHAT_TEST_SNAPSHOT_PAUSE_S"
NICENESS: Final = 10


@frozen(kw_only=True)
class ChildSnapshot:
    """What a child reported: where it wrote, how much it folded, what compaction must keep."""

    offset: int
    payload_bytes: int
    folded: int
    seconds: float
    needed: array[int]  # sorted offsets of the cursor moves the model still needs

    def report(self) -> bytes:
        """The child's stdout (read back by `from_report`)."""
        summary = {
            "offset": self.offset,
            "payload_bytes": self.payload_bytes,
            "folded": self.folded,
            "seconds": round(self.seconds, 3),
        }
        return json.dumps(summary).encode() + b"\n" + self.needed.tobytes()

    @classmethod
    def from_report(cls, out: bytes) -> ChildSnapshot:
        """Raises SnapshotChildError for what a child did not write."""
        line, _, rest = out.partition(b"\n")
        try:
            fields = json.loads(line)
            needed = array("Q")
            needed.frombytes(rest)
            return cls(
                offset=int(fields["offset"]),
                payload_bytes=int(fields["payload_bytes"]),
                folded=int(fields["folded"]),
                seconds=float(fields["seconds"]),
                needed=needed,
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise SnapshotChildError(f"the snapshot child's report does not read: {exc}") from exc


class SnapshotChildError(Exception):
    """The child failed or said something this code cannot read."""


async def take_snapshot(
    log_path: str, *, upto: int, version: str, ttl_s: float, rate_window_s: float
) -> ChildSnapshot:
    """Run the child for a snapshot of the file log at `log_path` at `upto`; return its report.

    Cancelling kills the child. Raises SnapshotChildError.
    """
    args = [log_path, str(upto), version, repr(ttl_s), repr(rate_window_s), str(os.getpid())]
    return await run_snapshot_child("app.snapshot_child", args)


async def run_snapshot_child(module: str, args: Sequence[str]) -> ChildSnapshot:
    """Run `python -m module args...` (a snapshot child) and return its report.

    Cancelling kills the child. Raises SnapshotChildError.
    """
    command = [sys.executable, "-m", module, *args]
    try:
        child = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:  # no memory, no processes left, ...
        raise SnapshotChildError(f"the snapshot child did not start: {exc}") from exc
    try:
        out, err = await child.communicate()
    except BaseException:
        if child.returncode is None:
            child.kill()
            await child.wait()
        raise
    for line in err.decode("utf-8", "replace").splitlines():
        level, _, message = line.partition(" ")
        if level in _LEVELS:
            log.log(logging.getLevelName(level), "%s", message)
        else:
            log.info("%s", line)
    if child.returncode != 0:
        raise SnapshotChildError(f"the snapshot child exited with status {child.returncode}")
    return ChildSnapshot.from_report(out)


# -- in the child --------------------------------------------------------------------------


def pause_for_tests(temporary: str) -> None:
    """Wait `CHAT_TEST_SNAPSHOT_PAUSE_S` with the snapshot written and not renamed (tests)."""
    pause_s = float(os.environ.get(PAUSE_VARIABLE, "0"))
    if pause_s > 0:
        log.warning("test pause before renaming %s: %.1f s", temporary, pause_s)
        time.sleep(pause_s)


def child_main(write: Callable[[], ChildSnapshot | None], what: str) -> int:
    """Run a snapshot child's `write` at low priority and print its report.

    Returns the exit status: 0 written (or the parent is gone: None), 1 failed.
    """
    os.nice(NICENESS)  # background work: the server's requests come first on a busy CPU
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        written = write()
    except Exception:
        log.exception("snapshot at %s failed", what)
        return 1
    if written is None:
        log.warning("the server is gone: no snapshot written")
        return 0
    sys.stdout.buffer.write(written.report())
    sys.stdout.buffer.flush()
    return 0
