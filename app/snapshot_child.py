"""The snapshot taker's child process: `python -m app.snapshot_child LOG UPTO VERSION ...`.

How this works (see `app.snapshot_taker` for why a child): open the log
read-only (`ReadOnlyLog`: no lock, nothing written but the snapshot), load
the newest snapshot that verifies, fold the events after it up to UPTO,
write the snapshot at UPTO through the `SnapshotStore` (temporary file,
fsync, rename: a kill at any point leaves the older snapshots whole) and
print the report. The child gives up without writing when the server that
started it is gone. Nothing in the app imports this module: it is a
program of its own.

`CHAT_TEST_SNAPSHOT_PAUSE_S` (tests only) makes the child wait that long
with its temporary file written and not yet renamed, so a test can kill the
server in the middle of a snapshot write.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
import time
from array import array
from collections.abc import Sequence
from typing import Final

from app.snapshot_taker import ChildSnapshot, child_main, pause_for_tests
from app.snapshots import encode_model, load_newest
from domain import decode
from eventstore import ReadOnlyLog
from projections import ReadModel

log = logging.getLogger("app.snapshot_child")

_PARENT_CHECK_EVERY: Final = 65_536  # events folded between two looks at the parent


def write_snapshot(
    log_path: str, *, upto: int, version: str, fresh: ReadModel, parent: int
) -> ChildSnapshot | None:
    """Fold from the newest snapshot to `upto` and write the snapshot there (None: parent gone).

    Raises EventStoreError, OSError, EventDecodeError.
    """
    started = time.monotonic()
    gc.disable()  # the model lives as long as this process: nothing to collect
    with ReadOnlyLog(log_path, upto=upto) as view:
        loaded = load_newest(view, version, fresh=fresh)
        model, folded = loaded.model, 0
        model.fold_until(view.read(upto).ts)
        for record in view.iter_from(loaded.offset):
            model.apply(record.offset, record.ts, decode(record.name, record.data))
            folded += 1
            if folded % _PARENT_CHECK_EVERY == 0 and os.getppid() != parent:
                return None
        model.fold_until(None)
        payload = encode_model(model)
        if os.getppid() != parent:
            return None
        view.snapshot_store().write(upto, payload, version, before_rename=pause_for_tests)
    return ChildSnapshot(
        offset=upto,
        payload_bytes=len(payload),
        folded=folded,
        seconds=time.monotonic() - started,
        needed=array("Q", sorted(model.cursor_trail.needed())),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """The child's entry point: 0 written (or the parent is gone), 1 failed."""
    parser = argparse.ArgumentParser(prog="python -m app.snapshot_child")
    for name in ("log", "upto", "version", "ttl_s", "rate_window_s", "parent"):
        parser.add_argument(name)
    args = parser.parse_args(argv)
    fresh = ReadModel(ttl_s=float(args.ttl_s), rate_window_s=float(args.rate_window_s))

    def write() -> ChildSnapshot | None:
        upto, parent, version = int(args.upto), int(args.parent), args.version
        return write_snapshot(args.log, upto=upto, version=version, fresh=fresh, parent=parent)

    return child_main(write, args.upto)


if __name__ == "__main__":
    sys.exit(main())
