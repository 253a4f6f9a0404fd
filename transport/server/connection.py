"""Serving one client connection: requests in order, under deadlines.

How this works: `Connection` is an `asyncio.Protocol`. `data_received` feeds
one `RequestParser`; as soon as a whole request head is buffered, one task is
started to serve it (and every complete request pipelined behind it), and the
task ends when the next head is not complete yet. Between requests no task
exists: an idle keep-alive connection is a parser and a few attributes, and a
request costs one task instead of a StreamReader wake-up through the frames
of a per-connection loop (about a fifth less CPU per request; see
bench/RESULTS.md, "HTTP layer"). Framing errors end the connection: we never look for
a next request after one. Deadlines (HTTP.md "Connections"), all recorded in
`wire.deadline` and enforced by the server's sweeper (`expire_if_late`):

- idle: no byte of a next request within `keepalive_timeout_s` -> close quietly
  (at shutdown, within `shutdown_idle_s` -> half-close and linger);
- header: the whole head within `header_timeout_s` of its first byte -> 408;
  for the first request of a connection, of the accept (a client that never
  sends a byte is closed quietly then, not held for the idle timeout);
- body: by `body_grace_s + bytes_read / body_min_rate_bytes_per_s` after the
  head -> 408 (a minimum rate, not a per-read timer; `body.py`);
- write: a response not taken at `response_min_rate_bytes_per_s` after
  `response_grace_s`, or a wait for the client to take more of it past
  `write_timeout_s` -> reset (`wire.py`: the kernel's buffers are freed).

The pieces: `wire.py` (the transport: flow control, waits, closing),
`body.py` (the request body, read only when the handler asks for it, which
is when `100 Continue` is sent), `writing.py` (the response). Whatever body
is left unread after the response makes us close the connection after a
half-closed linger (long enough for the rest of a declared body, within
caps), so that the client still receives the answer.
Received bytes are bounded: reading is paused while `read_chunk_bytes` are
buffered and nobody waits for them.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable
from typing import Any, Protocol, TypeVar

from transport.http import HttpError, ProtocolError, RequestHead, RequestParser
from transport.server.body import BodyReader
from transport.server.exchange import Request, Response, error_response
from transport.server.limits import HttpLimits
from transport.server.responses import encode_head, error_from
from transport.server.router import NoRouteError, Route, Router
from transport.server.wire import Wire
from transport.server.writing import close_stream, write_stream, write_whole

__all__ = ["Connection", "Host"]

_T = TypeVar("_T")


# The access log shows a matched route's pattern (`/join/{token}`), never the raw
# path: it may hold a secret. A path no route matched is the client's text, shown
# escaped and cut to this many characters (methods too: a token may be 8 KiB long).
_LOGGED_CHARS = 64


def _loggable(text: str) -> str:
    cut = text[:_LOGGED_CHARS].encode("unicode_escape").decode("ascii")
    return cut + "..." if len(text) > _LOGGED_CHARS else cut


class _ClientGoneError(Exception):
    """The client closed the connection while a long-poll handler ran."""


class Host(Protocol):
    """What a connection needs of the server that accepted it (`HttpServer`)."""

    router: Router
    limits: HttpLimits
    logger: logging.Logger
    closing: asyncio.Event

    def admit(self, connection: Connection) -> bytes | None:
        """Register a new connection; past a cap, the refusal to send instead."""
        ...

    def idle_changed(self, connection: Connection) -> None:
        """Note that `connection.idle` changed (idle ones may be closed for new ones)."""
        ...

    def forget(self, connection: Connection) -> None:
        """Drop a connection that is closed and no longer served."""
        ...


class Connection(asyncio.Protocol):
    """One client connection served by `HttpServer`."""

    def __init__(self, server: Host) -> None:
        self.server = server
        self.limits = server.limits
        self.logger = server.logger
        self.parser = RequestParser(
            max_request_line_bytes=self.limits.max_request_line_bytes,
            max_header_bytes=self.limits.max_header_bytes,
            max_header_fields=self.limits.max_header_fields,
        )
        self.peer = "-"
        self.peer_host = ""  # the address alone, what the per-peer cap counts
        self.idle = False  # waiting for the first byte of a request: set with _set_idle
        self.requests = 0
        self._accepted_at = 0.0
        self._loop = asyncio.get_running_loop()
        self.wire = Wire(self._loop, self.limits)
        self.body = BodyReader(self.parser, self.wire, self.limits)
        # Set once the connection is lost and no task serves it any more.
        self.finished: asyncio.Future[None] = self._loop.create_future()
        self._task: asyncio.Task[None] | None = None
        # A long poll, or an event stream being written, to cancel at EOF.
        self._watched_task: asyncio.Task[Any] | None = None
        self._went_away = False

    # -- asyncio.Protocol callbacks ------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Any transport with the methods we use (asyncio's, uvloop's), not only
        # asyncio.Transport instances.
        self.wire.attach(transport)  # type: ignore[arg-type]
        self._accepted_at = self._loop.time()
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple):
            self.peer_host, self.peer = str(peer[0]), f"{peer[0]}:{peer[1]}"
        else:
            self.peer_host = self.peer = str(peer)
        refusal = self.server.admit(self)
        if refusal is not None:
            self.wire.linger(refusal)
            return
        self._await_next_head()

    def data_received(self, data: bytes) -> None:
        wire = self.wire
        if wire.lingering:
            wire.discard(len(data))
            return
        if wire.closing:
            return
        parser = self.parser
        parser.feed(data)
        if self._task is not None:
            wire.data_arrived()
            if parser.buffered_bytes >= self.limits.read_chunk_bytes and not wire.waiting_for_data:
                wire.pause_reading()
            return
        self._start_next()

    def eof_received(self) -> bool:
        self.wire.eof = True
        self._cancel_watched()
        if self._task is None:  # no whole head is buffered: nothing more can come
            self._close()
        else:
            self.wire.data_arrived()
        return True  # keep our side open: the response still has to be written

    def connection_lost(self, exc: Exception | None) -> None:
        self.wire.connection_lost()
        self._cancel_watched()
        if exc is not None:
            self.logger.debug("connection %s ended: %r", self.peer, exc)
        self._maybe_finish()

    def pause_writing(self) -> None:
        self.wire.pause_writing()

    def resume_writing(self) -> None:
        self.wire.resume_writing()

    # -- called by the server ------------------------------------------------------

    def drain_if_idle(self, deadline: float) -> None:
        """At shutdown: if idle, wait until `deadline` (loop time) at most for a request.

        One that arrives is answered with `Connection: close`; then, or at the
        deadline, the connection half-closes and lingers: no request on its
        way is met with a reset.
        """
        if self.idle and self._task is None:
            self.wire.deadline = min(self.wire.deadline, deadline)

    def evict(self) -> None:
        """Close an idle connection to make room for a new one."""
        self.logger.debug("connection %s closed for a new one", self.peer)
        self._close()

    def cancel(self) -> None:
        """Stop at once: cancel the request in progress and drop the connection."""
        task = self._task
        if task is not None:
            # A task cancelled before its first step never runs `_serve`'s finally.
            task.add_done_callback(self._forget_task)
            task.cancel()
        self.wire.abort()

    def _forget_task(self, task: asyncio.Task[None]) -> None:
        if self._task is task:
            self._task = None
            self._maybe_finish()

    def expire_if_late(self, now: float) -> None:
        """Act on a deadline that has passed (called by the server's sweeper)."""
        wire = self.wire
        if wire.deadline > now or wire.expire():
            return
        if self._task is None and not wire.closing:
            if self.idle and self.server.closing.is_set():
                self._linger(b"")
            elif self.idle:
                self._close()
            else:
                self._reject(ProtocolError(408, "timeout", "request head too slow"))

    # -- between requests ----------------------------------------------------------

    def _set_idle(self, idle: bool) -> None:
        if self.idle != idle:
            self.idle = idle
            self.server.idle_changed(self)

    def _await_next_head(self) -> None:
        """No task: wait for the next head under the idle or the header deadline."""
        limits = self.limits
        if not self.requests:  # the first head: its deadline runs from the accept
            self._set_idle(not self.parser.buffered_bytes)
            self.wire.deadline = self._accepted_at + limits.header_timeout_s
        elif self.parser.buffered_bytes:
            self._set_idle(False)
            self.wire.deadline = self._loop.time() + limits.header_timeout_s
        else:
            self._set_idle(True)
            idle_s = limits.keepalive_timeout_s
            if self.server.closing.is_set():  # answered just before the shutdown began
                idle_s = min(idle_s, limits.shutdown_idle_s)
            self.wire.deadline = self._loop.time() + idle_s
        self.wire.resume_reading()

    def _start_next(self) -> None:
        try:
            event = self.parser.next_event()
        except ProtocolError as exc:
            self._reject(exc)
            return
        if isinstance(event, RequestHead):
            self._set_idle(False)
            self.wire.deadline = math.inf
            self._task = self._loop.create_task(self._serve(event))
        elif self.idle:  # the first bytes of a head
            self._set_idle(False)
            if self.requests:  # its deadline runs from now (the first's from the accept)
                self.wire.deadline = self._loop.time() + self.limits.header_timeout_s

    def _reject(self, exc: HttpError) -> None:
        self.logger.debug("bad request from %s: %s", self.peer, exc)
        response = error_from(exc)
        data = encode_head(response, len(response.body), keep_alive=False, version="HTTP/1.1")
        self._linger(data + response.body)
        self.logger.info("- - %d %d 0.0ms %s", exc.status, len(response.body), self.peer)

    def _close(self) -> None:
        self._set_idle(False)
        self.wire.close()

    def _linger(self, data: bytes) -> None:
        self._set_idle(False)
        self.wire.linger(data)

    def _maybe_finish(self) -> None:
        if self.wire.lost and self._task is None and not self.finished.done():
            self.server.forget(self)
            self.finished.set_result(None)

    # -- serving requests ----------------------------------------------------------

    async def _serve(self, head: RequestHead) -> None:
        """Serve `head` and every whole request buffered behind it."""
        wire = self.wire
        try:
            while await self._handle(head):
                if wire.lost:
                    return
                try:
                    event = self.parser.next_event()
                except ProtocolError as exc:
                    self._reject(exc)
                    return
                if not isinstance(event, RequestHead):
                    if wire.eof:
                        self._close()
                    else:
                        self._await_next_head()
                    return
                head = event
            if not wire.lingering:
                wire.close()
        except TimeoutError:  # the client does not take the answer
            self.logger.debug("connection %s reset: answer not taken in time", self.peer)
            wire.reset()
        except (ConnectionError, OSError) as exc:
            self.logger.debug("connection %s ended: %r", self.peer, exc)
            wire.abort()
        except asyncio.CancelledError:
            wire.abort()
            raise
        except Exception:
            self.logger.exception("connection from %s failed", self.peer)
            wire.abort()
        finally:
            self._task = None
            self._maybe_finish()

    def _wants_keep_alive(self, head: RequestHead) -> bool:
        tokens = head.headers.get_tokens("connection") if "connection" in head.headers else ()
        if "close" in tokens:
            return False
        if head.version == "HTTP/1.0":
            return "keep-alive" in tokens
        return True

    async def _handle(self, head: RequestHead) -> bool:
        """Answer one request; True when the connection may serve a next one."""
        started = self._loop.time()
        self.requests += 1
        keep_alive = (
            self._wants_keep_alive(head) and self.requests < self.limits.max_requests_per_connection
        )
        target = head.target
        if target[0] != "/":  # absolute-form (or "*"): keep only the path and query
            scheme_end = target.find("://")
            slash = target.find("/", scheme_end + 3) if scheme_end >= 0 else -1
            target = target[slash:] if slash >= 0 else "/"
        raw_path, _, raw_query = target.partition("?")
        body = self.body
        body.start(head, started)
        broken = False
        path = "-"  # what the logs show of the path
        try:
            match = self.server.router.resolve(head.method, raw_path)
            route = match.route
            path = route.pattern
            if route.max_body_bytes is not None:
                body.limit = route.max_body_bytes
            self._check_head(head)
            request = Request(
                method=head.method,
                target=head.target,
                version=head.version,
                headers=head.headers,
                peer=self.peer,
                raw_path=raw_path,
                raw_query=raw_query,
                path_params=match.params,
                max_body_bytes=body.limit,
                content_length=head.content_length,
                closing=self.server.closing,
                limits=self.limits,
                source=body,
            )
            if route.cancel_on_disconnect:
                response = await self._call_watched(route, request)
            else:
                response = await route.handler(request)
        except _ClientGoneError:
            self.logger.info(
                "%s %s client went away %.1fms %s",
                head.method,
                path,
                (self._loop.time() - started) * 1000,
                self.peer,
            )
            return False
        except ProtocolError as exc:
            broken = True
            response = error_from(exc)
        except NoRouteError as exc:
            path = exc.pattern or _loggable(raw_path)
            response = error_from(exc)
        except HttpError as exc:
            response = error_from(exc)
        except Exception:
            self.logger.exception("handler failed: %s %s from %s", head.method, path, self.peer)
            response = error_response(500, "internal", "internal server error")
        unread = broken or not body.finish_nowait()
        if unread or self.server.closing.is_set():
            keep_alive = False
        sent, ok = await self._respond(head, response, keep_alive, path)
        if self.logger.isEnabledFor(logging.INFO):
            self.logger.info(
                "%s %s %d %d %.1fms %s",
                head.method if len(head.method) <= _LOGGED_CHARS else _loggable(head.method),
                path,
                response.status,
                sent,
                (self._loop.time() - started) * 1000,
                self.peer,
            )
        if ok and (unread or (not keep_alive and self.parser.buffered_bytes)):
            self.wire.linger(b"", body.declared_rest())
        return keep_alive and ok

    async def _respond(
        self, head: RequestHead, response: Response, keep_alive: bool, path: str
    ) -> tuple[int, bool]:
        """Write `response`; returns (body bytes sent, whether the connection is sound)."""
        if response.stream is not None and response.open_ended:
            if self.wire.eof:  # the client has gone already
                await close_stream(response.stream)
                return 0, False
            try:  # an event stream stops when its client goes away
                return await self._watched(write_stream(self, head, response, keep_alive, path))
            except _ClientGoneError:
                return 0, False
        if response.stream is not None:
            return await write_stream(self, head, response, keep_alive, path)
        sent = write_whole(self, head, response, keep_alive, path)
        if self.wire.must_drain:
            await self.wire.drain_answer(self._loop.time(), sent)
        return sent, True

    def _check_head(self, head: RequestHead) -> None:
        """Reject from the head alone, before any body byte is asked for."""
        expect = head.headers.get("expect")
        if expect is not None:
            if expect.strip(" \t").lower() != "100-continue":
                raise HttpError(417, "expectation_failed", "unsupported expectation")
            if head.version == "HTTP/1.1":
                self.body.expect_continue()
        self.body.check_head(head)

    async def _call_watched(self, route: Route, request: Request) -> Response:
        """Run a long-poll handler; cancel it when the client goes away.

        The handler runs in the connection's own task, which `eof_received`
        and `connection_lost` cancel while it is parked: no second task and
        no watcher per parked poll (they cost ~2.9 KiB of its ~11 KiB).
        """
        await request.body()  # long-poll bodies are small; then EOF means the client left
        if self.wire.eof:
            raise _ClientGoneError
        return await self._watched(route.handler(request))

    async def _watched(self, work: Awaitable[_T]) -> _T:
        """Await `work` in this task; cancel it when the client goes away.

        Raises _ClientGoneError when it did.
        """
        task = asyncio.current_task()
        assert task is not None
        self._watched_task, self._went_away = task, False
        try:
            return await work
        except asyncio.CancelledError:
            if not self._went_away:
                raise  # the server's own shutdown
            task.uncancel()
            raise _ClientGoneError from None
        finally:
            self._watched_task = None

    def _cancel_watched(self) -> None:
        if self._watched_task is not None and not self._went_away:
            self._went_away = True
            self._watched_task.cancel()
