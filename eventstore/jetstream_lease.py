"""Who writes a JetStream log: a lease in a KV bucket, and requests forwarded to its holder.

How this works: the key `writer` of the bucket `<stream>_writer` names the
replica that writes. The bucket's entries expire `ttl_s` after their last
put (server time, so replicas' clocks do not matter). Every `ttl_s / 4` the
holder renews it with a compare-and-set on its revision; any other replica
tries to create it, which succeeds only once the key is gone (its holder
stopped, or could not reach NATS for `ttl_s`). The new holder then calls
`become_writer`, which fences the former one out of the stream; the lease
alone is never trusted to order writes. A holder that cannot renew within
`ttl_s` of its last renewal stops writing (`resign_writer`) even before it
learns who took over. The bucket keeps the TTL it was made with; a replica
started with another one renews by the bucket's.

The holder also answers requests on `<stream>.writer` (core NATS
request-reply, one task per request so they batch into shared rounds);
`request` sends one from any replica. The payloads are opaque bytes: what
they mean is the caller's business.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Final

import nats.errors
import nats.js.errors
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.kv import KeyValue

from eventstore.errors import EventStoreError, LogUnavailableError, NotWriterError
from eventstore.jetstream import JetStreamEventLog
from eventstore.jetstream_setup import NETWORK_ERRORS

_LOGGER = logging.getLogger("eventstore.jetstream")
LEASE_KEY: Final = "writer"
DEFAULT_TTL_S: Final = 5.0  # `--nats-lease-ttl` (app.settings says why 5 s)
Handler = Callable[[bytes], Awaitable[bytes]]
# Tests only: while the file this names exists, the lease task does nothing (a
# writer whose event loop stalls past the TTL, without stalling the rest).
PAUSE_VARIABLE: Final = "CHAT_TEST_LEASE_PAUSE_FILE"


class WriterLease:
    """This replica's side of the writer lease of one JetStream log."""

    def __init__(self, log: JetStreamEventLog, *, ttl_s: float = DEFAULT_TTL_S) -> None:
        self._log = log
        self._ttl_s = ttl_s
        self.holder = f"{os.uname().nodename}:{os.getpid()}:{secrets.token_hex(4)}"
        self._kv: KeyValue | None = None
        self._revision: int | None = None
        self._renewed_at = 0.0
        self._handler: Handler | None = None
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._answers: set[asyncio.Task[None]] = set()
        self.changed = asyncio.Event()  # pulsed when this replica starts or stops writing
        self._pause_file = os.environ.get(PAUSE_VARIABLE) or None

    @property
    def ttl_s(self) -> float:
        """The lease's TTL: the bucket's once started (it keeps the one it was made with)."""
        return self._ttl_s

    @property
    def bucket(self) -> str:
        return f"{self._log.stream}_writer"

    @property
    def request_subject(self) -> str:
        return f"{self._log.stream}.writer"

    async def start(self, handler: Handler) -> None:
        """Open the bucket, try for the lease once, then keep at it in the background.

        Raises EventStoreError when the bucket cannot be opened or made.
        """
        self._handler = handler
        js = self._log.js
        try:
            async with asyncio.timeout(self._log.timeout_s):
                try:
                    self._kv = await js.key_value(self.bucket)
                except nats.js.errors.BucketNotFoundError:
                    self._kv = await js.create_key_value(
                        bucket=self.bucket, ttl=self._ttl_s, history=1
                    )
                ttl_s = (await self._kv.status()).ttl
        except (*NETWORK_ERRORS, nats.js.errors.Error) as exc:
            raise EventStoreError(f"cannot open the lease bucket {self.bucket}: {exc!r}") from exc
        if ttl_s and abs(ttl_s - self._ttl_s) > 0.001:
            # The server expires the lease by the bucket's TTL: renew by it too.
            _LOGGER.warning(
                "lease: bucket %s expires the lease after %.1f s, not %.1f s: using %.1f s "
                "(delete the bucket with every replica stopped to change it)",
                self.bucket,
                ttl_s,
                self._ttl_s,
                ttl_s,
            )
            self._ttl_s = ttl_s
        await self._tick()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="writer-lease")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._ttl_s / 4)
            if not self._paused():
                await self._tick()

    def _paused(self) -> bool:
        return self._pause_file is not None and os.path.exists(self._pause_file)

    async def _tick(self) -> None:
        try:
            async with asyncio.timeout(self._ttl_s / 2):
                if self._revision is not None:
                    await self._renew()
                else:
                    await self._acquire()
        except (*NETWORK_ERRORS, nats.js.errors.Error, LogUnavailableError) as exc:
            _LOGGER.debug("lease: %r", exc)
        if self._revision is not None and time.monotonic() - self._renewed_at > self._ttl_s:
            _LOGGER.warning("lease: not renewed within %.1f s; no longer writing", self._ttl_s)
            await self._let_go()
        if self._revision is None and self._log.is_writer:
            await self._let_go()
        with contextlib.suppress(LogUnavailableError, EventStoreError):
            await self._log.refresh_stream_head()

    async def _acquire(self) -> None:
        assert self._kv is not None
        try:
            revision = await self._kv.create(LEASE_KEY, self.holder.encode())
        except nats.js.errors.KeyWrongLastSequenceError:
            return  # held by another replica
        self._revision, self._renewed_at = revision, time.monotonic()
        if not await self._log.become_writer():
            return  # the former writer published meanwhile: fence again at the next tick
        await self._serve()

    async def _renew(self) -> None:
        assert self._kv is not None
        assert self._revision is not None
        started = time.monotonic()
        try:
            self._revision = await self._kv.update(
                LEASE_KEY, self.holder.encode(), last=self._revision
            )
        except nats.js.errors.KeyWrongLastSequenceError:
            _LOGGER.warning("lease: taken over by another replica")
            await self._let_go()
            return
        self._renewed_at = started
        if not self._log.is_writer and await self._log.become_writer():
            await self._serve()

    async def _serve(self) -> None:
        if self._sub is None:
            self._sub = await self._log.nc.subscribe(self.request_subject, cb=self._on_request)
        self.changed.set()

    async def _let_go(self) -> None:
        self._revision = None
        if self._sub is not None:
            sub, self._sub = self._sub, None
            with contextlib.suppress(*NETWORK_ERRORS):
                await sub.unsubscribe()
        if self._log.resign_writer():
            self.changed.set()

    async def _on_request(self, msg: Msg) -> None:
        task = asyncio.get_running_loop().create_task(self._answer(msg))
        self._answers.add(task)
        task.add_done_callback(self._answers.discard)

    async def _answer(self, msg: Msg) -> None:
        assert self._handler is not None
        reply = await self._handler(msg.data)
        with contextlib.suppress(*NETWORK_ERRORS):
            await msg.respond(reply)

    async def request(self, payload: bytes, *, timeout_s: float) -> bytes:
        """Send `payload` to the writer; its answer.

        Raises NotWriterError when no replica took it (safe to send again) and
        LogUnavailableError when it may have been taken but was not answered.
        """
        try:
            reply = await self._log.nc.request(self.request_subject, payload, timeout=timeout_s)
        except nats.errors.NoRespondersError as exc:
            raise NotWriterError("no replica is writing now") from exc
        except NETWORK_ERRORS as exc:
            raise LogUnavailableError(
                f"the writer did not answer: {exc!r}", retry_after_s=1.0
            ) from exc
        return bytes(reply.data)

    async def close(self) -> None:
        """Stop competing; hand the lease back at once (if held) so another replica takes it."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for task in list(self._answers):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, timeout=self._log.timeout_s)
        # Publish what is staged before handing over: the next writer's fence would refuse it.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._log.timeout_s):
                while not self._log.resign_writer():
                    await self._log.published()
        if self._revision is not None and self._kv is not None:
            with contextlib.suppress(*NETWORK_ERRORS, nats.js.errors.Error):
                async with asyncio.timeout(self._log.timeout_s):
                    await self._kv.delete(LEASE_KEY, last=self._revision)
        await self._let_go()
