"""A replica's snapshot child: `python -m app.replica_snapshot_child URL STREAM PATH UPTO ...`.

How this works (see `app.snapshot_taker` for why a child and
`app.replica_snapshots` for where a replica's snapshots are): connect to
NATS (nothing is published, no lock is taken), read the stream's log id,
load the newest snapshot under PATH that verifies against the stream, read
the stream's rounds after it up to UPTO a batch at a time and fold them,
then write the snapshot at UPTO through the `SnapshotStore` (temporary
file, fsync, rename) and print the report. The child gives up without
writing when the server that started it is gone. Nothing in the app
imports this module: it is a program of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import sys
import time
from array import array
from collections.abc import Sequence

from app.replica_snapshots import StreamSource
from app.snapshot_taker import ChildSnapshot, child_main, pause_for_tests
from app.snapshots import encode_model, load_newest
from domain import decode
from eventstore import EventStoreError, StreamView
from projections import ReadModel

log = logging.getLogger("app.replica_snapshot_child")


async def write_stream_snapshot(
    url: str,
    stream: str,
    path: str,
    *,
    upto: int,
    version: str,
    fresh: ReadModel,
    parent: int,
    timeout_s: float,
) -> ChildSnapshot | None:
    """Fold from the newest snapshot to `upto` and write the snapshot there (None: parent gone).

    Raises EventStoreError (NATS, the stream), OSError, EventDecodeError.
    """
    started = time.monotonic()
    gc.disable()  # the model lives as long as this process: nothing to collect
    view = await StreamView.open(url, stream=stream, timeout_s=timeout_s)
    try:
        reads = view.reads
        last_seq = await reads.last_seq()
        top = await reads.holding(upto, last_seq=last_seq)
        if top is None:
            raise EventStoreError(f"stream {stream} does not hold offset {upto}")
        source = StreamSource(path, log_id=view.log_id, durable_head=upto, first_offset=1)
        await source.read_rounds(reads, last_seq=last_seq, upto=upto)
        loaded = load_newest(source, version, fresh=fresh)
        model, folded = loaded.model, 0
        model.fold_until(top.records()[upto - top.first].ts)
        async for round_ in reads.iter_rounds(loaded.offset, upto, last_seq=top.seq):
            for record in round_.records():
                if loaded.offset < record.offset <= upto:
                    model.apply(record.offset, record.ts, decode(record.name, record.data))
                    folded += 1
            if os.getppid() != parent:
                return None
        model.fold_until(None)
        payload = encode_model(model)
        if os.getppid() != parent:
            return None
        source.hold(upto, top)
        source.snapshot_store().write(upto, payload, version, before_rename=pause_for_tests)
    finally:
        await view.close()
    return ChildSnapshot(
        offset=upto,
        payload_bytes=len(payload),
        folded=folded,
        seconds=time.monotonic() - started,
        needed=array("Q", sorted(model.cursor_trail.needed())),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """The child's entry point: 0 written (or the parent is gone), 1 failed."""
    parser = argparse.ArgumentParser(prog="python -m app.replica_snapshot_child")
    for name in ("url", "stream", "path", "upto", "version", "ttl_s", "rate_window_s"):
        parser.add_argument(name)
    parser.add_argument("parent")
    parser.add_argument("timeout_s")
    args = parser.parse_args(argv)
    fresh = ReadModel(ttl_s=float(args.ttl_s), rate_window_s=float(args.rate_window_s))

    def write() -> ChildSnapshot | None:
        return asyncio.run(
            write_stream_snapshot(
                args.url,
                args.stream,
                args.path,
                upto=int(args.upto),
                version=args.version,
                fresh=fresh,
                parent=int(args.parent),
                timeout_s=float(args.timeout_s),
            )
        )

    return child_main(write, args.upto)


if __name__ == "__main__":
    sys.exit(main())
