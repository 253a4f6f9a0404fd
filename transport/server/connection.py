"""Serving one client connection: requests in order, deadlines, body reading.

How this works: `Connection` is an `asyncio.Protocol`. `data_received` feeds
one `RequestParser`; as soon as a whole request head is buffered, one task is
started to serve it (and every complete request pipelined behind it), and the
task ends when the next head is not complete yet. Between requests no task
exists: an idle keep-alive connection is a parser and a few attributes, and a
request costs one task instead of a StreamReader wake-up through the frames
of a per-connection loop (about a fifth less CPU per request; see
bench/RESULTS.md, "HTTP layer"). Framing errors end the connection: we never look for
a next request after one. Deadlines (HTTP.md "Connections"), all recorded in
`deadline` and enforced by the server's sweeper (`expire_if_late`):

- idle: no byte of a next request within `keepalive_timeout_s` -> close quietly;
- header: the whole head within `header_timeout_s` of its first byte -> 408;
- body: by `body_grace_s + bytes_read / body_min_rate_bytes_per_s` after the
  head -> 408 (a minimum rate, not a per-read timer);
- write: a response that cannot drain within `write_timeout_s` -> abort.

The body is read only when the handler asks for it, which is when
`100 Continue` is sent. Whatever body is left unread after the response makes
us close the connection after a brief half-closed linger (`_linger`), so that
the client still receives the answer. Received bytes are bounded: reading is
paused while `read_chunk_bytes` are buffered and nobody waits for them.
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Any, Protocol

from transport.http import (
    LAST_CHUNK,
    Data,
    EndOfMessage,
    HttpError,
    ProtocolError,
    RequestHead,
    RequestParser,
    encode_chunk,
)
from transport.server.exchange import Request, Response, error_response
from transport.server.limits import HttpLimits
from transport.server.responses import encode_head, error_from
from transport.server.router import Route, Router

__all__ = ["Connection", "Host"]

_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class _ClientGoneError(Exception):
    """The client closed the connection while a long-poll handler ran."""


def _wake(waiter: asyncio.Future[bool] | None, value: bool) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(value)


class Host(Protocol):
    """What a connection needs of the server that accepted it (`HttpServer`)."""

    router: Router
    limits: HttpLimits
    logger: logging.Logger
    closing: asyncio.Event

    def admit(self, connection: Connection) -> bytes | None:
        """Register a new connection; past the cap, the refusal to send instead."""
        ...

    def forget(self, connection: Connection) -> None:
        """Drop a connection that is closed and no longer served."""
        ...


class _Transport(Protocol):
    """The parts of `asyncio.Transport` a connection uses (uvloop's transports have them too)."""

    def get_extra_info(self, name: str, default: Any = None) -> Any: ...
    def write(self, data: bytes | bytearray | memoryview) -> None: ...
    def write_eof(self) -> None: ...
    def can_write_eof(self) -> bool: ...
    def close(self) -> None: ...
    def abort(self) -> None: ...
    def pause_reading(self) -> None: ...
    def resume_reading(self) -> None: ...


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
        self.idle = False  # waiting for the first byte of a next request
        self.requests = 0
        self.deadline = math.inf  # of the wait in progress, if any
        self._loop = asyncio.get_running_loop()
        # Set once the connection is lost and no task serves it any more.
        self.finished: asyncio.Future[None] = self._loop.create_future()
        self._transport: _Transport | None = None
        self._task: asyncio.Task[None] | None = None
        self._waiter: asyncio.Future[bool] | None = None  # True: data or EOF, False: late
        self._drain_waiter: asyncio.Future[bool] | None = None
        self._watched: asyncio.Task[Any] | None = None  # a long poll to cancel at EOF
        self._went_away = False
        self._eof = False
        self._lost = False
        self._closing = False  # we decided to close: further input is ignored
        self._lingering = False
        self._linger_bytes = 0
        self._linger_timer: asyncio.TimerHandle | None = None
        self._write_paused = False
        self._read_paused = False
        # State of the current request's body.
        self._body_limit = 0
        self._body_read = 0
        self._body_done = True
        self._body_start = 0.0
        self._continue_pending = False

    # -- asyncio.Protocol callbacks ------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Any transport with the methods we use (asyncio's, uvloop's), not only
        # asyncio.Transport instances.
        self._transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        refusal = self.server.admit(self)
        if refusal is not None:
            self._linger(refusal)
            return
        self._await_next_head()

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            self._linger_bytes += len(data)
            if self._linger_bytes > self.limits.linger_max_bytes:
                self._close_now()
            return
        if self._closing:
            return
        parser = self.parser
        parser.feed(data)
        if self._task is not None:
            _wake(self._waiter, True)
            if parser.buffered_bytes >= self.limits.read_chunk_bytes and self._waiter is None:
                self._pause_reading()
            return
        self._start_next()

    def eof_received(self) -> bool:
        self._eof = True
        self._cancel_watched()
        if self._task is None:  # no whole head is buffered: nothing more can come
            self._close_now()
        else:
            _wake(self._waiter, True)
        return True  # keep our side open: the response still has to be written

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = self._eof = self._closing = True
        self.deadline = math.inf
        if self._linger_timer is not None:
            self._linger_timer.cancel()
        _wake(self._waiter, True)
        _wake(self._drain_waiter, True)
        self._cancel_watched()
        if exc is not None:
            self.logger.debug("connection %s ended: %r", self.peer, exc)
        self._maybe_finish()

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        _wake(self._drain_waiter, True)

    # -- called by the server ------------------------------------------------------

    def close_if_idle(self) -> None:
        """Close the connection now if it waits for a next request (shutdown)."""
        if self.idle and self._task is None:
            self._close_now()

    def cancel(self) -> None:
        """Stop at once: cancel the request in progress and drop the connection."""
        task = self._task
        if task is not None:
            # A task cancelled before its first step never runs `_serve`'s finally.
            task.add_done_callback(self._forget_task)
            task.cancel()
        self._closing = True
        if self._transport is not None:
            self._transport.abort()

    def _forget_task(self, task: asyncio.Task[None]) -> None:
        if self._task is task:
            self._task = None
            self._maybe_finish()

    def expire_if_late(self, now: float) -> None:
        """Act on a deadline that has passed (called by the server's sweeper)."""
        if self.deadline > now:
            return
        self.deadline = math.inf
        if self._waiter is not None:
            _wake(self._waiter, False)
        elif self._task is None and not self._closing:
            if self.idle:
                self._close_now()
            else:
                self._reject(ProtocolError(408, "timeout", "request head too slow"))

    # -- between requests ----------------------------------------------------------

    def _await_next_head(self) -> None:
        """No task: wait for the next head under the idle or the header deadline."""
        now = self._loop.time()
        if self.parser.buffered_bytes:
            self.idle = False
            self.deadline = now + self.limits.header_timeout_s
        else:
            self.idle = True
            self.deadline = now + self.limits.keepalive_timeout_s
        if self._read_paused:
            self._resume_reading()

    def _start_next(self) -> None:
        try:
            event = self.parser.next_event()
        except ProtocolError as exc:
            self._reject(exc)
            return
        if isinstance(event, RequestHead):
            self.idle = False
            self.deadline = math.inf
            self._task = self._loop.create_task(self._serve(event))
        elif self.idle:  # the first bytes of a head: its deadline runs from now
            self.idle = False
            self.deadline = self._loop.time() + self.limits.header_timeout_s

    def _reject(self, exc: HttpError) -> None:
        self.logger.debug("bad request from %s: %s", self.peer, exc)
        response = error_from(exc)
        data = encode_head(response, len(response.body), keep_alive=False, version="HTTP/1.1")
        self._linger(data + response.body)
        self.logger.info("- - %d %d 0.0ms %s", exc.status, len(response.body), self.peer)

    # -- closing -------------------------------------------------------------------

    def _linger(self, data: bytes) -> None:
        """Write `data`, half-close, discard input until EOF or `linger_s`, then close.

        Closing with unread bytes makes the kernel send RST, which can destroy
        the response before the client reads it.
        """
        self._closing = self._lingering = True
        self.idle = False
        self.deadline = math.inf
        transport = self._transport
        if transport is None or self._lost:
            return
        if data:
            transport.write(data)
        if transport.can_write_eof():
            transport.write_eof()
        self._resume_reading()
        if self._eof:
            self._close_now()
        else:
            self._linger_timer = self._loop.call_later(self.limits.linger_s, self._close_now)

    def _close(self) -> None:
        """Close after what is written (unless a linger already decides when)."""
        if not self._lingering:
            self._close_now()

    def _close_now(self) -> None:
        self._closing = True
        self.deadline = math.inf
        if self._transport is not None:
            self._transport.close()

    def _abort(self) -> None:
        self._closing = True
        if self._transport is not None:
            self._transport.abort()

    def _maybe_finish(self) -> None:
        if self._lost and self._task is None and not self.finished.done():
            self.server.forget(self)
            self.finished.set_result(None)

    # -- flow control --------------------------------------------------------------

    def _pause_reading(self) -> None:
        if not self._read_paused and self._transport is not None:
            self._read_paused = True
            self._transport.pause_reading()

    def _resume_reading(self) -> None:
        if self._read_paused and self._transport is not None:
            self._read_paused = False
            self._transport.resume_reading()

    async def _wait_data(self, deadline: float) -> None:
        """Wait for more received bytes or EOF; raises TimeoutError past `deadline`."""
        if self._eof:
            return
        self._resume_reading()
        waiter: asyncio.Future[bool] = self._loop.create_future()
        self._waiter = waiter
        self.deadline = deadline
        try:
            if not await waiter:
                raise TimeoutError
        finally:
            self._waiter = None
            self.deadline = math.inf

    def _write(self, data: bytes) -> None:
        if not self._lost and self._transport is not None:
            self._transport.write(data)

    async def _drain(self) -> None:
        """Wait until the transport takes more data; raises TimeoutError after write_timeout_s."""
        if self._lost:
            raise ConnectionResetError("connection lost")
        if not self._write_paused:
            return
        waiter: asyncio.Future[bool] = self._loop.create_future()
        self._drain_waiter = waiter
        try:
            async with asyncio.timeout(self.limits.write_timeout_s):
                await waiter
        finally:
            self._drain_waiter = None
        if self._lost:
            raise ConnectionResetError("connection lost")

    # -- serving requests ----------------------------------------------------------

    async def _serve(self, head: RequestHead) -> None:
        """Serve `head` and every whole request buffered behind it."""
        try:
            while await self._handle(head):
                if self._lost:
                    return
                try:
                    event = self.parser.next_event()
                except ProtocolError as exc:
                    self._reject(exc)
                    return
                if not isinstance(event, RequestHead):
                    if self._eof:
                        self._close_now()
                    else:
                        self._await_next_head()
                    return
                head = event
            self._close()
        except (ConnectionError, TimeoutError, OSError) as exc:
            self.logger.debug("connection %s ended: %r", self.peer, exc)
            self._abort()
        except asyncio.CancelledError:
            self._abort()
            raise
        except Exception:
            self.logger.exception("connection from %s failed", self.peer)
            self._abort()
        finally:
            self._task = None
            self._maybe_finish()

    async def read_body_chunk(self) -> bytes:
        """The next piece of the current request body, `b""` at its end.

        Raises ProtocolError 413 past the route's limit, 408 when the body is
        slower than the minimum rate, 400 when it is malformed or cut short.
        """
        if self._body_done:
            return b""
        while True:
            event = self.parser.next_event()
            if isinstance(event, Data):
                self._body_read += len(event.data)
                if self._body_read > self._body_limit:
                    raise ProtocolError(413, "too_large", "request body too large")
                return event.data
            if isinstance(event, EndOfMessage):
                self._body_done = True
                return b""
            if self._eof:
                self.parser.feed(b"")  # the parser now raises 400: cut short
                continue
            if self._continue_pending:
                self._continue_pending = False
                self._write(_CONTINUE)
                await self._drain()
            rate = self.limits.body_min_rate_bytes_per_s
            deadline = self._body_start + self.limits.body_grace_s + self._body_read / rate
            try:
                await self._wait_data(deadline)
            except TimeoutError:
                raise ProtocolError(408, "timeout", "request body too slow") from None

    def _finish_body_nowait(self) -> bool:
        """Consume what is buffered of an unread body; True when the body is complete."""
        try:
            while not self._body_done:
                event = self.parser.next_event()
                if isinstance(event, EndOfMessage):
                    self._body_done = True
                elif isinstance(event, Data):
                    self._body_read += len(event.data)
                    if self._body_read > self._body_limit:
                        return False
                else:
                    return False
        except ProtocolError:
            return False
        return True

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
        self._body_read = 0
        self._body_done = False
        self._body_start = started
        self._body_limit = self.limits.default_max_body_bytes
        self._continue_pending = False
        broken = False
        try:
            match = self.server.router.resolve(head.method, raw_path)
            route = match.route
            if route.max_body_bytes is not None:
                self._body_limit = route.max_body_bytes
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
                max_body_bytes=self._body_limit,
                closing=self.server.closing,
                source=self,
            )
            if route.cancel_on_disconnect:
                response = await self._call_watched(route, request)
            else:
                response = await route.handler(request)
        except _ClientGoneError:
            self.logger.info(
                "%s %s client went away %.1fms %s",
                head.method,
                raw_path,
                (self._loop.time() - started) * 1000,
                self.peer,
            )
            return False
        except ProtocolError as exc:
            broken = True
            response = error_from(exc)
        except HttpError as exc:
            response = error_from(exc)
        except Exception:
            self.logger.exception("handler failed: %s %s from %s", head.method, raw_path, self.peer)
            response = error_response(500, "internal", "internal server error")
        unread = broken or not self._finish_body_nowait()
        if unread or self.server.closing.is_set():
            keep_alive = False
        if response.stream is None:
            sent, ok = self._write_whole(head, response, keep_alive), True
            if self._write_paused or self._lost:
                await self._drain()
        else:
            sent, ok = await self._write_stream(head, response, keep_alive)
        if self.logger.isEnabledFor(logging.INFO):
            self.logger.info(
                "%s %s %d %d %.1fms %s",
                head.method,
                raw_path,
                response.status,
                sent,
                (self._loop.time() - started) * 1000,
                self.peer,
            )
        if ok and (unread or (not keep_alive and self.parser.buffered_bytes)):
            self._linger(b"")
        return keep_alive and ok

    def _check_head(self, head: RequestHead) -> None:
        """Reject from the head alone, before any body byte is asked for."""
        expect = head.headers.get("expect")
        if expect is not None:
            if expect.strip(" \t").lower() != "100-continue":
                raise HttpError(417, "expectation_failed", "unsupported expectation")
            self._continue_pending = head.version == "HTTP/1.1"
        if head.content_length is not None and head.content_length > self._body_limit:
            raise HttpError(413, "too_large", "request body too large")

    async def _call_watched(self, route: Route, request: Request) -> Response:
        """Run a long-poll handler; cancel it when the client goes away.

        The handler runs in the connection's own task, which `eof_received`
        and `connection_lost` cancel while it is parked: no second task and
        no watcher per parked poll (they cost ~2.9 KiB of its ~11 KiB).
        """
        await request.body()  # long-poll bodies are small; then EOF means the client left
        if self._eof:
            raise _ClientGoneError
        task = asyncio.current_task()
        assert task is not None
        self._watched, self._went_away = task, False
        try:
            return await route.handler(request)
        except asyncio.CancelledError:
            if not self._went_away:
                raise  # the server's own shutdown
            task.uncancel()
            raise _ClientGoneError from None
        finally:
            self._watched = None

    def _cancel_watched(self) -> None:
        if self._watched is not None and not self._went_away:
            self._went_away = True
            self._watched.cancel()

    def _response_head(
        self, head: RequestHead, response: Response, length: int | None, keep_alive: bool
    ) -> tuple[bytes, Response]:
        """The encoded head, or that of a 500 when the handler's headers are invalid."""
        try:
            return encode_head(
                response, length, keep_alive=keep_alive, version=head.version
            ), response
        except ValueError:
            self.logger.exception("invalid response header for %s %s", head.method, head.target)
            response = error_response(500, "internal", "internal server error")
            data = encode_head(
                response, len(response.body), keep_alive=keep_alive, version=head.version
            )
            return data, response

    def _write_whole(self, head: RequestHead, response: Response, keep_alive: bool) -> int:
        """Write a response with a `body` (not a stream); returns the body bytes sent."""
        data, response = self._response_head(head, response, len(response.body), keep_alive)
        if head.method == "HEAD" or response.status in (204, 304):
            self._write(data)
            return 0
        self._write(data + response.body)
        return len(response.body)

    async def _write_stream(
        self, head: RequestHead, response: Response, keep_alive: bool
    ) -> tuple[int, bool]:
        """Write a streamed response; returns (body bytes sent, whether the connection is sound)."""
        stream = response.stream
        assert stream is not None
        length = response.content_length
        data, checked = self._response_head(head, response, length, keep_alive)
        if checked is not response:  # invalid headers: a 500 with a body instead
            await _close_stream(stream)
            sent = self._write_whole(head, checked, keep_alive)
            await self._drain()
            return sent, True
        if head.method == "HEAD" or response.status in (204, 304):
            await _close_stream(stream)
            self._write(data)
            await self._drain()
            return 0, True
        self._write(data)
        sent = 0
        try:
            async for chunk in stream:
                sent += len(chunk)
                self._write(chunk if length is not None else encode_chunk(chunk))
                await self._drain()
        except (ConnectionError, TimeoutError, OSError):
            raise
        except Exception:
            self.logger.exception("response stream failed: %s %s", head.method, head.target)
            return sent, False
        finally:
            await _close_stream(stream)
        if length is not None and sent != length:
            self.logger.error("response stream sent %d bytes, promised %d", sent, length)
            return sent, False
        if length is None:
            self._write(LAST_CHUNK)
        await self._drain()
        return sent, True


async def _close_stream(stream: object) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()
