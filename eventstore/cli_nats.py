"""`chat-log` on JetStream: read a stream's log (`--nats URL`), and `copy` a log between backends.

`copy SOURCE DEST` copies every record, with its offset, time and log id,
from a file log (a path) to a new stream (`nats://...`), or back, so a
single-node deployment can become a cluster without its clients noticing a
new log. The source must not be written meanwhile (stop its server: the
file log's lock refuses a copy from a log in use), and the destination must
be empty. Records go in batches of up to COPY_BATCH, one round each.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Final

from eventstore.errors import EventStoreError
from eventstore.file import FileEventLog
from eventstore.jetstream import JetStreamEventLog
from eventstore.jetstream_reads import StreamView
from eventstore.records import FsyncPolicy, NewRecord, Record
from eventstore.segment_file import create_segment

COPY_BATCH: Final = 1000


def is_nats(target: str) -> bool:
    return target.startswith(("nats://", "tls://"))


async def _stream_records(view: StreamView) -> AsyncIterator[Record]:
    """Every record of the stream's log, a batch of messages at a time."""
    last_seq = await view.reads.last_seq()
    async for batch in view.reads.scan(2, last_seq):
        for round_ in batch:
            for record in round_.records() if round_.count else ():
                yield record


async def _file_records(log: FileEventLog) -> AsyncIterator[Record]:
    for record in log.iter_from(0):
        yield record


async def _open_destination(
    dest: str, stream: str, log_id: str, replicas: int
) -> FileEventLog | JetStreamEventLog:
    if is_nats(dest):
        log = await JetStreamEventLog.open(dest, stream=stream, log_id=log_id, replicas=replicas)
        if log.log_id != log_id or log.head != 0 or not await log.become_writer():
            await log.close()
            raise EventStoreError(f"stream {stream} at {dest} is not empty")
        return log
    await asyncio.to_thread(_new_file_log, dest, log_id)
    return await FileEventLog.open(dest, fsync=FsyncPolicy.ALWAYS)


def _new_file_log(path: str, log_id: str) -> None:
    """An empty log directory whose first segment carries `log_id` (the source's)."""
    if os.path.exists(path):
        raise EventStoreError(f"{path} exists: copy into a new path")
    os.mkdir(path, 0o700)
    create_segment(path, log_id, 1).close()


async def _batches(records: AsyncIterator[Record]) -> AsyncIterator[list[Record]]:
    batch: list[Record] = []
    async for record in records:
        batch.append(record)
        if len(batch) == COPY_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


async def copy_log(source: str, dest: str, *, stream: str, replicas: int = 1) -> int:
    """Copy every record of `source` into the new log `dest`; return how many.

    A stream is read a batch of messages at a time (in bounded memory).
    Raises EventStoreError (a source that has holes, a destination not empty) and OSError.
    """
    src: StreamView | FileEventLog
    if is_nats(source):
        src = await StreamView.open(source, stream=stream)
        records = _stream_records(src)
    else:
        if not await asyncio.to_thread(os.path.exists, source):
            raise EventStoreError(f"no log at {source}")
        src = await FileEventLog.open(source, fsync=FsyncPolicy.NONE)
        records = _file_records(src)
    try:
        dst = await _open_destination(dest, stream, src.log_id, replicas)
        try:
            count = 0
            async for batch in _batches(records):
                if batch[0].offset != count + 1:
                    raise EventStoreError(f"the source has a hole before offset {batch[0].offset}")
                stored = await dst.append(
                    [NewRecord(ts=r.ts, name=r.name, data=r.data) for r in batch]
                )
                if stored[-1].offset != batch[-1].offset:
                    raise EventStoreError(f"offsets differ at {batch[-1].offset}")
                count += len(batch)
            return count
        finally:
            await dst.close()
    finally:
        await src.close()
