"""The writer's half of a JetStream log: staged rounds, published one at a time, fenced.

How this works: the log's `append_nowait` stages each batch in the newest
round (`stage`); one task publishes the rounds in order, each with
`Nats-Expected-Last-Sequence` (the sequence of the writer's previous round,
or of its fence) and `Nats-Msg-Id` (log id and first offset), so a publish
retried after a lost acknowledgement is answered as a duplicate with the
same sequence. `fence` publishes the empty round a new writer starts with,
expecting the last sequence it has followed: from then on a former
writer's publish is refused.

What happens next is the log's business: `published(stored round,
seconds)` after each acknowledgement, `failed(error, round)` when another
writer took over or a round could not be published at close. While NATS is
away the same round is published again every RETRY_PAUSE_S.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Final

import nats.js.errors
from nats.js.client import JetStreamContext

from eventstore.errors import (
    EventStoreError,
    LogFailedError,
    LogUnavailableError,
    WriterFencedError,
)
from eventstore.format import DEFAULT_MAX_FRAME_BYTES, encode_payload, make_record, new_packer
from eventstore.group_commit import Round
from eventstore.jetstream_rounds import ROUND_HEADER, StreamRound, round_header
from eventstore.jetstream_setup import NETWORK_ERRORS, WRONG_LAST_SEQUENCE, subject_of
from eventstore.records import NewRecord, Record

RETRY_PAUSE_S: Final = 0.2  # between publishes of a round while NATS is away
Published = Callable[[StreamRound, float], None]  # the round as stored, seconds it took
Failed = Callable[[EventStoreError, Round | None], None]


class RoundPublisher:
    """Publishes the writer's staged rounds in order (see the module docstring)."""

    def __init__(
        self,
        js: JetStreamContext,
        *,
        stream: str,
        log_id: str,
        timeout_s: float,
        append_timeout_s: float,
        max_round_bytes: int,
        logger: logging.Logger,
        published: Published,
        failed: Failed,
    ) -> None:
        self._js = js
        self._stream = stream
        self._subject = subject_of(stream)
        self._log_id = log_id
        self._timeout_s = timeout_s
        self._append_timeout_s = append_timeout_s
        self._max_round_bytes = max_round_bytes
        self._pack = new_packer()
        self._logger = logger
        self._on_published = published
        self._on_failed = failed
        self.writer_seq = 0  # the sequence of the writer's last acknowledged round
        self.queue: deque[Round] = deque()
        self.inflight: Round | None = None
        self._wakeup = asyncio.Event()
        self._published = asyncio.Event()  # set after each round the task finishes
        self._task: asyncio.Task[None] | None = None
        self.closing = False
        self.stopped = False  # after a failure: nothing more is published

    @property
    def busy(self) -> bool:
        """Whether rounds are staged or being published."""
        return bool(self.queue) or self.inflight is not None

    def stage(self, records: Sequence[NewRecord], head: int) -> tuple[Round, list[Record]]:
        """Give a batch the offsets after `head` and add it to the newest round.

        Returns the round and the batch as stored. A round is at most
        `max_round_bytes`; a batch that alone is larger raises
        RecordTooLargeError or EventStoreError.
        """
        limit = self._max_round_bytes
        payloads: list[bytes] = []
        stored: list[Record] = []
        offset, size = head, 0
        for record in records:
            offset += 1
            data = dict(record.data)
            payload = encode_payload(
                offset,
                record.ts,
                record.name,
                data,
                max_frame_bytes=min(DEFAULT_MAX_FRAME_BYTES, limit),
                pack=self._pack,
            )
            size += len(payload)
            payloads.append(payload)
            stored.append(make_record(offset, record.ts, record.name, data))
        if size > limit:
            raise EventStoreError(f"a batch of {size} bytes exceeds {limit}")
        round_ = self.queue[-1] if self.queue else None
        if round_ is None or round_.body_bytes + size > limit:
            round_ = Round()
            self.queue.append(round_)
        round_.payloads += payloads
        round_.records += stored
        round_.body_bytes += size
        self._wakeup.set()
        return round_, stored

    def staged(self, offset: int) -> Record | None:
        """The staged record at `offset`, if any."""
        for round_ in (self.inflight, *self.queue):
            if round_ is not None and round_.holds(offset):
                return round_.records[offset - round_.records[0].offset]
        return None

    async def fence(self, first_offset: int, expected_seq: int) -> int | None:
        """Publish the empty round a writer starts with; its sequence, or None when too late.

        None: another writer published after `expected_seq`. Starts the
        publishing task. Raises LogUnavailableError (NATS away).
        """
        try:
            ack = await self._js.publish(
                self._subject,
                b"",
                stream=self._stream,
                timeout=self._timeout_s,
                headers={
                    ROUND_HEADER: round_header(first_offset, 0),
                    "Nats-Expected-Last-Sequence": str(expected_seq),
                    "Nats-Msg-Id": f"{self._log_id}.fence.{secrets.token_hex(8)}",
                },
            )
        except nats.js.errors.APIError as exc:
            if exc.err_code in WRONG_LAST_SEQUENCE:
                return None
            raise LogUnavailableError(f"NATS: {exc}", retry_after_s=1.0) from exc
        except NETWORK_ERRORS as exc:
            raise LogUnavailableError(f"NATS: {exc!r}", retry_after_s=1.0) from exc
        self.writer_seq = ack.seq
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"jetstream-publisher {self._stream}"
            )
        return int(ack.seq)

    async def one_published(self) -> None:
        """Return once a round is finished (or at once when none is staged)."""
        if self.busy:
            self._published.clear()
            await self._published.wait()

    def finish_all(self, error: LogFailedError) -> None:
        """Fail every staged round with `error` and publish nothing more."""
        self.stopped = True
        rounds = [*self.queue] if self.inflight is None else [self.inflight, *self.queue]
        for round_ in rounds:
            round_.finish(error)
        self.queue.clear()
        self.inflight = None
        self._published.set()

    async def close(self) -> bool:
        """Publish what is staged within the append timeout; False when that was not enough."""
        self.closing = True
        self._wakeup.set()
        if self._task is None:
            return True
        try:
            async with asyncio.timeout(self._append_timeout_s):
                await asyncio.shield(self._task)
        except TimeoutError:
            self._task.cancel()
            return False
        return True

    async def _run(self) -> None:
        try:
            while not self.stopped:
                if not self.queue:
                    if self.closing:
                        return
                    self._wakeup.clear()
                    await self._wakeup.wait()
                    continue
                await self._publish(self.queue.popleft())
        except asyncio.CancelledError:
            self._on_failed(EventStoreError("the publisher task was cancelled"), self.inflight)
            raise

    async def _publish(self, round_: Round) -> None:
        self.inflight = round_
        records = round_.records
        first = records[0].offset
        body = b"".join(round_.payloads)
        headers = {
            ROUND_HEADER: round_header(first, len(records)),
            "Nats-Expected-Last-Sequence": str(self.writer_seq),
            "Nats-Msg-Id": f"{self._log_id}.{first}",
        }
        started = time.monotonic()
        while True:
            try:
                ack = await self._js.publish(
                    self._subject,
                    body,
                    stream=self._stream,
                    timeout=self._timeout_s,
                    headers=dict(headers),
                )
                break
            except nats.js.errors.APIError as exc:
                if exc.err_code in WRONG_LAST_SEQUENCE:
                    fenced = WriterFencedError(f"another writer took over ({exc})")
                    self._on_failed(fenced, round_)
                    return
                error: object = exc
            except NETWORK_ERRORS as exc:
                error = repr(exc)
            if self.closing and time.monotonic() - started > self._append_timeout_s:
                self._on_failed(EventStoreError(f"not published at close: {error}"), round_)
                return
            self._logger.warning("publish of round from %d failed, retrying: %s", first, error)
            await asyncio.sleep(RETRY_PAUSE_S)
        self.writer_seq = ack.seq
        self.inflight = None
        self._on_published(
            StreamRound(first, len(records), body, ack.seq), time.monotonic() - started
        )
        round_.finish()
        self._published.set()
