"""What `chat-log` needs of the terminal: progress lines, and stopping on a signal."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from typing import Any, Final, TextIO

# Progress on a terminal only for logs big enough to take a noticeable time.
PROGRESS_MIN_BYTES: Final = 64 * 1024 * 1024
PROGRESS_EVERY_S: Final = 0.25


def progress_printer(stream: TextIO, label: str) -> Callable[[int, int], None] | None:
    """A progress line on `stream` for big logs, or None when it is not a terminal."""
    if not stream.isatty():
        return None
    last = [0.0]

    def show(done: int, total: int) -> None:
        now = time.monotonic()
        if total < PROGRESS_MIN_BYTES or (now - last[0] < PROGRESS_EVERY_S and done < total):
            return
        last[0] = now
        stream.write(f"\r{label} {done >> 20}/{total >> 20} MiB ({100 * done // total}%)")
        if done >= total:
            stream.write("\n")
        stream.flush()

    return show


class StopSignals:
    """SIGINT and SIGTERM ask `tail -f` to stop at its next poll (exit 0, no traceback).

    The handlers are installed whatever the inherited disposition: a shell
    that starts a background job without job control sets SIGINT to be
    ignored, and Python then leaves it ignored, so `kill -INT` would do
    nothing. The previous handlers are put back on exit.
    """

    SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: object) -> None:
        self.requested = True

    def asked(self) -> bool:
        """Whether a stop signal came (a method: the flag changes under the caller's feet)."""
        return self.requested

    def __enter__(self) -> StopSignals:
        for signum in self.SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
