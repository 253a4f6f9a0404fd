"""`chat-log verify|stats|tail|dump --nats URL`: a stream's log, read as a file log is.

How this works: a `StreamView` (no lock, nothing published, the stream not
followed) reads the stream's messages a batch at a time (`StreamReads.scan`,
batched direct gets), so a stream of any size is read in bounded memory.
Every message after the genesis must be a round (`jetstream_rounds`): its
`Chat-Round` header names its first offset and count, its body holds that
many records with dense offsets following the round before. A fence (a
round of no records) takes none. A stream whose limits dropped its oldest
messages starts at a later offset: verify says so, and it is not a problem.

`verify` reads and decodes everything and reports the first problem (exit
1). `stats` gives the counts, sizes and time span (the sizes are those of
the records' msgpack payloads, as the file log frames them). `tail` prints
the last N records and, with `-f`, polls for new rounds until SIGINT or
SIGTERM. `dump` prints records as it reads them.
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any, Final, TextIO

import msgpack
from attrs import define, field

from eventstore.errors import EventStoreError
from eventstore.jetstream_reads import StreamReads, StreamView
from eventstore.jetstream_rounds import StreamRound
from eventstore.present import iso_time
from eventstore.records import Record
from eventstore.terminal import StopSignals

FOLLOW_POLL_S: Final = 0.2
Emit = Callable[[Record], object]


@define
class StreamSummary:
    """What `verify` and `stats` found in a stream."""

    log: str
    log_id: str
    messages: int = 0  # after the genesis
    fences: int = 0
    records: int = 0
    first_offset: int = 1  # the first offset the stream still holds
    payload_bytes: int = 0
    max_payload_bytes: int = 0
    body_bytes: int = 0  # of the messages, as the stream stores them (headers aside)
    first_ts: float | None = None
    last_ts: float | None = None
    counts: Counter[str] = field(factory=Counter)
    problem: str | None = None

    @property
    def head(self) -> int:
        return self.first_offset + self.records - 1

    def stats(self) -> dict[str, Any]:
        """The summary in `chat-log stats`'s shape (file_bytes: the bodies of the messages)."""
        first, last = self.first_ts, self.last_ts
        return {
            "log": self.log,
            "log_id": self.log_id,
            "records": self.records,
            "messages": self.messages,
            "fences": self.fences,
            "first_offset": self.first_offset,
            "file_bytes": self.body_bytes,
            "frame_bytes": self.payload_bytes,
            "average_frame_bytes": round(self.payload_bytes / self.records, 1)
            if self.records
            else 0,
            "max_frame_bytes": self.max_payload_bytes,
            "first_time": iso_time(first) if first is not None else None,
            "last_time": iso_time(last) if last is not None else None,
            "span_s": (last - first) if first is not None and last is not None else 0,
            "counts": dict(self.counts.most_common()),
        }


def payload_sizes(round_: StreamRound) -> list[int]:
    """The byte size of each record's payload in the round's body."""
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=True)
    unpacker.feed(round_.body)
    sizes, before = [], 0
    for _ in unpacker:
        sizes.append(unpacker.tell() - before)
        before = unpacker.tell()
    return sizes


def _place(url: str, stream: str) -> str:
    return f"{url} stream {stream}"


async def _rounds(reads: StreamReads) -> AsyncIterator[StreamRound]:
    """Every message after the genesis, up to the stream's last as of now, in order."""
    last_seq = await reads.last_seq()
    async for batch in reads.scan(2, last_seq):
        for round_ in batch:
            yield round_


async def summarize(url: str, stream: str, *, timeout_s: float = 5.0) -> StreamSummary:
    """Read and decode the whole stream. Raises EventStoreError when it cannot be read at all."""
    view = await StreamView.open(url, stream=stream, timeout_s=timeout_s)
    summary = StreamSummary(log=_place(url, stream), log_id=view.log_id)
    expected: int | None = None  # the offset the next round must start at
    try:
        async for round_ in _rounds(view.reads):
            summary.messages += 1
            summary.body_bytes += len(round_.body)
            if expected is None:
                expected = summary.first_offset = round_.first
            if round_.first != expected:
                summary.problem = (
                    f"stream sequence {round_.seq}: a round from offset {round_.first} "
                    f"where offset {expected} was due"
                )
                break
            if not round_.count:
                summary.fences += 1
                continue
            records = round_.records()
            for record, size in zip(records, payload_sizes(round_), strict=True):
                summary.counts[record.name] += 1
                summary.payload_bytes += size
                summary.max_payload_bytes = max(summary.max_payload_bytes, size)
                if summary.first_ts is None:
                    summary.first_ts = record.ts
                summary.last_ts = record.ts
            summary.records += len(records)
            expected = round_.last + 1
    except EventStoreError as exc:
        summary.problem = str(exc)
    finally:
        await view.close()
    return summary


def verify(url: str, stream: str, out: TextIO) -> bool:
    """`chat-log verify --nats`: True when the whole stream reads back as a log."""
    summary = asyncio.run(summarize(url, stream))
    text = (
        f"{summary.log}: log id {summary.log_id}, {summary.records} records in "
        f"{summary.messages} messages ({summary.fences} fences), offsets "
        f"{summary.first_offset}..{summary.head}"
    )
    if summary.first_offset > 1:
        text += f" (the stream's limits dropped offsets 1..{summary.first_offset - 1})"
    if summary.problem is None:
        out.write(f"ok: {text}\n")
        return True
    out.write(f"problem: {summary.problem}\n  ({text} before it)\n")
    return False


async def _tail(
    url: str, stream: str, lines: int, emit: Emit, flush: Callable[[], object], *, follow: bool
) -> None:
    view = await StreamView.open(url, stream=stream)
    reads = view.reads
    try:
        last_seq, last = await reads.last_round()
        head = 0 if last is None else last.first + last.count - 1
        if head and lines:
            for round_ in await reads.rounds(head - lines, head, last_seq=last_seq):
                for record in round_.records():
                    if record.offset > head - lines:
                        emit(record)
        flush()
        if not follow:
            return
        with StopSignals() as stop:
            while not stop.asked():
                await asyncio.sleep(FOLLOW_POLL_S)
                for round_ in await reads.batch(last_seq + 1):
                    last_seq = round_.seq
                    for record in round_.records():
                        emit(record)
                flush()
    finally:
        await view.close()


def tail(url: str, stream: str, lines: int, line: Callable[[Record], str], *, follow: bool) -> None:
    """`chat-log tail --nats [-f]`. Raises EventStoreError (NATS, a stream that is not a log)."""
    out = sys.stdout

    def emit(record: Record) -> None:
        out.write(line(record) + "\n")

    asyncio.run(_tail(url, stream, lines, emit, out.flush, follow=follow))


async def _dump(url: str, stream: str, emit: Emit, keep: Callable[[Record], bool]) -> None:
    view = await StreamView.open(url, stream=stream)
    try:
        async for round_ in _rounds(view.reads):
            for record in round_.records() if round_.count else ():
                if keep(record):
                    emit(record)
    finally:
        await view.close()


def dump(
    url: str, stream: str, line: Callable[[Record], str], keep: Callable[[Record], bool]
) -> None:
    """`chat-log dump --nats`, record by record. Raises EventStoreError."""
    out = sys.stdout

    def emit(record: Record) -> None:
        out.write(line(record) + "\n")

    asyncio.run(_dump(url, stream, emit, keep))
