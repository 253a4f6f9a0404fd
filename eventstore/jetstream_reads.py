"""Reading a JetStream log's rounds on demand: batched direct gets, each under a deadline.

How this works: a replica holds only its newest rounds (`RoundWindow`);
an older offset is read from the stream. `batch(seq)` is one *batched
direct get* (`$JS.API.DIRECT.GET.<stream>` with `{"seq", "batch",
"max_bytes"}`): the server answers with the messages from that sequence on
and an end-of-batch status, with no consumer to create or delete. To find
the sequence of an offset, `SequenceMap` gives the nearest known point at
or before it (every replica notes one about every `SPARSE_OFFSETS` offsets
while it follows the stream) and the reads go on from there; below the
first point (a replica that started from a snapshot) a binary search over
sequences with single direct gets finds it, noting each probe.

Retention: a stream with limits drops its oldest messages. A batch that
starts later than asked, or a probe answered "not found", means the stream
no longer holds the offsets before the first round it returns:
`first_offset` moves up, and readers refuse those offsets
(OffsetOutOfRangeError) as the file log does after retention.

Every request runs under `timeout_s`; a request NATS does not answer in
time raises LogUnavailableError (the caller answers 503, or retries later).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Final

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js.client import JetStreamContext

from eventstore.errors import EventStoreError, LogUnavailableError
from eventstore.jetstream_rounds import SequenceMap, StreamRound, parse_round_header
from eventstore.jetstream_setup import NETWORK_ERRORS, close_quietly, connect, log_id_of

BATCH_MESSAGES: Final = 256  # messages one batched direct get asks for
BATCH_BYTES: Final = 4 * 1024 * 1024  # ... and about how many bytes of them
_STATUS: Final = "Status"
_END_OF_BATCH: Final = "204"
_NOT_FOUND: Final = "404"


class StreamReads:
    """Reads of one stream's rounds by sequence and by offset (see the module docstring)."""

    def __init__(
        self, nc: NatsClient, js: JetStreamContext, stream: str, *, timeout_s: float
    ) -> None:
        self._nc = nc
        self._js = js
        self.stream = stream
        self._subject = f"$JS.API.DIRECT.GET.{stream}"
        self._timeout_s = timeout_s
        self.map = SequenceMap()
        self.first_offset = 1  # the stream holds no offset below this (retention)
        self.fetched_messages = 0  # messages read on demand, for /metrics
        self._seq_query: asyncio.Task[int] | None = None  # see `last_seq`
        self._seq_queries = 0  # how many were started

    async def last_seq(self) -> int:
        """The stream's last sequence, asked of NATS after this call began.

        Callers share one question at a time: one that comes while a
        question is out waits for it and then for the next (a burst of
        callers costs NATS two questions, not one each). Raises
        LogUnavailableError.
        """
        asked_before = self._seq_queries
        while True:
            if self._seq_query is None:
                self._seq_queries += 1
                self._seq_query = asyncio.get_running_loop().create_task(self._ask_last_seq())
            query, number = self._seq_query, self._seq_queries
            try:
                found = await asyncio.shield(query)
            finally:
                if self._seq_query is query and query.done():
                    self._seq_query = None
            if number > asked_before:
                return found

    async def _ask_last_seq(self) -> int:
        try:
            async with asyncio.timeout(self._timeout_s):
                info = await self._js.stream_info(self.stream)
        except NETWORK_ERRORS as exc:
            raise LogUnavailableError(f"NATS: {exc!r}", retry_after_s=1.0) from exc
        return int(info.state.last_seq)

    async def last_round(self) -> tuple[int, StreamRound | None]:
        """The stream's last sequence and the message there (None: only the genesis).

        Raises LogUnavailableError and EventStoreError.
        """
        seq = await self.last_seq()
        return seq, (await self.probe(seq) if seq > 1 else None)

    def close(self) -> None:
        """Stop a question in flight."""
        if self._seq_query is not None:
            self._seq_query.cancel()

    async def batch(
        self, seq: int, *, messages: int = BATCH_MESSAGES, max_bytes: int = BATCH_BYTES
    ) -> list[StreamRound]:
        """The messages from sequence `seq` on, in order (fences as rounds of 0); [] past the end.

        Raises LogUnavailableError (no answer within the deadline, NATS
        away) and EventStoreError (a message that is not a round).
        """
        found: list[Msg] = []
        ended = asyncio.Event()
        failure: list[str] = []

        async def take(msg: Msg) -> None:
            status = (msg.headers or {}).get(_STATUS)
            if status is None:
                found.append(msg)
                return
            if status not in (_END_OF_BATCH, _NOT_FOUND):
                failure.append(f"status {status} {(msg.headers or {}).get('Description')}")
            ended.set()

        request = {"seq": seq, "batch": messages, "max_bytes": max_bytes}
        try:
            async with asyncio.timeout(self._timeout_s):
                inbox = self._nc.new_inbox()
                sub = await self._nc.subscribe(inbox, cb=take)
                try:
                    await self._nc.publish(self._subject, json.dumps(request).encode(), reply=inbox)
                    await ended.wait()
                finally:
                    await sub.unsubscribe()
        except NETWORK_ERRORS as exc:
            raise LogUnavailableError(
                f"NATS: no answer to a read of stream {self.stream} at sequence {seq}: {exc!r}",
                retry_after_s=1.0,
            ) from exc
        if failure:
            raise LogUnavailableError(
                f"NATS refused a read of stream {self.stream}: {failure[0]}", retry_after_s=1.0
            )
        rounds = [self._round(msg) for msg in found]
        self.fetched_messages += len(rounds)
        if rounds and rounds[0].seq > seq:
            self._dropped_before(rounds[0])
        return rounds

    def _round(self, msg: Msg) -> StreamRound:
        headers = msg.headers or {}
        try:
            seq = int(headers["Nats-Sequence"])
        except (KeyError, ValueError) as exc:
            raise EventStoreError(f"stream {self.stream}: a read without its sequence") from exc
        try:
            first, count = parse_round_header(headers)
        except EventStoreError as exc:
            raise EventStoreError(f"stream {self.stream} sequence {seq}: {exc}") from exc
        self.map.note(first, seq)
        return StreamRound(first, count, bytes(msg.data), seq)

    def _dropped_before(self, round_: StreamRound) -> None:
        """The stream holds nothing before `round_` any more (retention)."""
        self.first_offset = max(self.first_offset, round_.first)

    async def probe(self, seq: int) -> StreamRound | None:
        """The message at sequence `seq`, or None when the stream no longer holds it.

        Raises LogUnavailableError and EventStoreError as `batch` does.
        """
        try:
            async with asyncio.timeout(self._timeout_s):
                raw = await self._nc.request(
                    self._subject, json.dumps({"seq": seq}).encode(), timeout=self._timeout_s
                )
        except NETWORK_ERRORS as exc:
            raise LogUnavailableError(
                f"NATS: no answer to a read of stream {self.stream} at sequence {seq}: {exc!r}",
                retry_after_s=1.0,
            ) from exc
        status = (raw.headers or {}).get(_STATUS)
        if status == _NOT_FOUND:
            return None
        if status is not None:
            raise LogUnavailableError(
                f"NATS refused a read of stream {self.stream}: status {status}", retry_after_s=1.0
            )
        self.fetched_messages += 1
        return self._round(raw)

    async def holding(self, offset: int, *, last_seq: int) -> StreamRound | None:
        """The round with `offset` (stream sequences up to `last_seq`), or None when gone.

        Raises LogUnavailableError and EventStoreError as `batch` does.
        """
        rounds = await self.rounds(offset - 1, offset, last_seq=last_seq)
        return rounds[0] if rounds else None

    async def rounds(self, after: int, last: int, *, last_seq: int) -> list[StreamRound]:
        """The rounds holding the offsets after `after` up to `last`, in order.

        Those the stream no longer holds (retention) are left out and
        `first_offset` says so. Raises LogUnavailableError and EventStoreError.
        """
        return [round_ async for round_ in self.iter_rounds(after, last, last_seq=last_seq)]

    async def iter_rounds(
        self, after: int, last: int, *, last_seq: int
    ) -> AsyncIterator[StreamRound]:
        """The rounds holding the offsets after `after` up to `last`, read a batch at a time.

        Raises what `rounds` raises, while iterating.
        """
        seq = await self._seq_before(after + 1, last_seq=last_seq)
        async for batch in self.scan(seq, last_seq):
            for round_ in batch:
                if round_.count and round_.last > after and round_.first <= last:
                    yield round_
                if round_.first + round_.count > last:
                    return

    async def scan(self, first_seq: int, last_seq: int) -> AsyncIterator[list[StreamRound]]:
        """The messages from `first_seq` to `last_seq`, a batch at a time, in order.

        The next batch is read while the caller handles one. Raises
        LogUnavailableError and EventStoreError, while iterating.
        """
        loop = asyncio.get_running_loop()

        def read(seq: int) -> asyncio.Task[list[StreamRound]] | None:
            if seq > last_seq:
                return None
            return loop.create_task(
                self.batch(seq, messages=min(BATCH_MESSAGES, last_seq - seq + 1))
            )

        ahead = read(first_seq)
        try:
            while ahead is not None:
                batch = await ahead
                ahead = read(batch[-1].seq + 1) if batch else None
                yield [round_ for round_ in batch if round_.seq <= last_seq]
        finally:
            if ahead is not None:
                ahead.cancel()

    async def _seq_before(self, offset: int, *, last_seq: int) -> int:
        """A sequence at or before the message holding `offset` (not far before it)."""
        low, high = self.map.bounds(offset)
        if low is not None:
            return low
        low, high = 2, (high if high is not None else last_seq + 1)  # 1 is the genesis
        while high - low > BATCH_MESSAGES // 4:
            middle = (low + high) // 2
            probed = await self.probe(middle)
            if probed is None:  # dropped by retention: everything before it too
                low = middle + 1
                continue
            if offset < probed.first:
                high = middle
            elif probed.count and offset <= probed.last:
                return middle
            else:
                low = middle + 1
        return low


class StreamView:
    """A stream's log, read without following it: no lock, nothing published.

    For tools and a replica's snapshot child. Open with `await
    StreamView.open(url, stream=...)`; `reads` reads its rounds; `close` it.
    """

    def __init__(self, nc: NatsClient, reads: StreamReads, log_id: str) -> None:
        self._nc = nc
        self.reads = reads
        self.log_id = log_id

    @classmethod
    async def open(cls, url: str, *, stream: str, timeout_s: float = 5.0) -> StreamView:
        """Connect and read the log id. Raises EventStoreError (NATS, no log in the stream)."""
        nc = await connect(url, timeout_s, logging.getLogger("eventstore.jetstream"))
        js = nc.jetstream(timeout=timeout_s)
        try:
            log_id = await log_id_of(js, stream)
        except (*NETWORK_ERRORS, EventStoreError) as exc:
            await close_quietly(nc)
            raise EventStoreError(f"cannot read stream {stream}: {exc!r}") from exc
        if log_id is None:
            await close_quietly(nc)
            raise EventStoreError(f"stream {stream} holds no log")
        return cls(nc, StreamReads(nc, js, stream, timeout_s=timeout_s), log_id)

    async def close(self) -> None:
        """Disconnect (never raises)."""
        self.reads.close()
        await close_quietly(self._nc)
