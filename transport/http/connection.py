"""Serving one client connection: requests in order, deadlines, body reading.

How this works: one task per connection runs `Connection.run()`, a loop of
read head -> route -> call handler -> write response. Bytes go through one
`RequestParser`, so pipelined requests are served strictly in order and a
framing error ends the connection (we never look for a next request after
one). Deadlines (HTTP.md "Connections"):

- idle: no byte of a next request within `keepalive_timeout_s` -> close quietly;
- header: the whole head within `header_timeout_s` of its first byte -> 408;
- body: by `body_grace_s + bytes_read / body_min_rate_bytes_per_s` after the
  head -> 408 (a minimum rate, not a per-read timer);
- write: a response that cannot drain within `write_timeout_s` -> close.

The body is read only when the handler asks for it, which is when
`100 Continue` is sent. Whatever body is left unread after the response makes
us close the connection (after a brief half-closed linger so the client
still receives the answer).
"""

from __future__ import annotations

import asyncio
import functools
import math
import time
from email.utils import formatdate
from typing import TYPE_CHECKING

from transport.http.codec import (
    Data,
    EndOfMessage,
    RequestHead,
    RequestParser,
)
from transport.http.errors import HttpError, ProtocolError
from transport.http.headers import check_field
from transport.http.messages import Request, Response, error_response
from transport.http.router import Route
from transport.http.writers import LAST_CHUNK, REASONS, encode_chunk

if TYPE_CHECKING:
    from transport.http.server import HttpServer

__all__ = ["Connection", "http_date", "send_and_close"]

_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
# Framing headers belong to the server; a handler's copies are dropped.
_SERVER_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "date"})
_date_second = -1
_date_text = ""


def http_date() -> str:
    """The current `Date` header value, formatted once per second."""
    global _date_second, _date_text  # a one-entry cache
    now = int(time.time())
    if now != _date_second:
        _date_second, _date_text = now, formatdate(now, usegmt=True)
    return _date_text


@functools.cache
def _status_line(status: int) -> str:
    return f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}"


class _ClientGoneError(Exception):
    """The client closed the connection while a long-poll handler ran."""


def error_from(exc: HttpError) -> Response:
    """The API.md error response for `exc`."""
    return error_response(exc.status, exc.code, exc.message, headers=exc.headers, **exc.extra)


async def send_and_close(
    writer: asyncio.StreamWriter, reader: asyncio.StreamReader, data: bytes, linger_s: float
) -> None:
    """Write `data`, half-close, and read-and-discard for up to `linger_s`, then close."""
    try:
        writer.write(data)
        async with asyncio.timeout(linger_s):
            await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
            while await reader.read(64 * 1024):
                pass
    except (TimeoutError, ConnectionError, OSError):
        pass
    finally:
        writer.close()


class Connection:
    """One client connection served by `HttpServer`."""

    def __init__(
        self, server: HttpServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.server = server
        self.limits = server.limits
        self.logger = server.logger
        self.reader = reader
        self.writer = writer
        self.parser = RequestParser(
            max_request_line_bytes=self.limits.max_request_line_bytes,
            max_header_bytes=self.limits.max_header_bytes,
            max_header_fields=self.limits.max_header_fields,
        )
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.idle = False
        self.requests = 0
        self.deadline = math.inf  # of the read in progress, if any
        self._expired = False
        self._task: asyncio.Task[None] | None = None
        self._loop = asyncio.get_running_loop()
        # State of the current request's body.
        self._body_limit = 0
        self._body_read = 0
        self._body_done = True
        self._body_start = 0.0
        self._continue_pending = False

    def close_if_idle(self) -> None:
        """Close the connection now if it waits for a next request (shutdown)."""
        if self.idle:
            self.writer.close()

    async def run(self) -> None:
        """Serve requests until the connection should close."""
        self._task = asyncio.current_task()
        try:
            await self._serve_requests()
        except (ConnectionError, TimeoutError, OSError) as exc:
            self.logger.debug("connection %s ended: %r", self.peer, exc)
        finally:
            self.writer.close()

    def expire_if_late(self, now: float) -> None:
        """Cancel the pending read when its deadline has passed (called by the server's sweeper)."""
        if self.deadline <= now and not self._expired and self._task is not None:
            self._expired = True
            self._task.cancel()

    async def _read(self, deadline: float) -> bytes:
        # The deadline is enforced by the server's sweeper (see HttpServer), not by
        # a timer per read: asyncio.timeout() per request cost ~12% of the hot path.
        self.deadline = deadline
        try:
            return await self.reader.read(self.limits.read_chunk_bytes)
        except asyncio.CancelledError:
            if self._expired and self._task is not None:
                self._expired = False
                self._task.uncancel()
                raise TimeoutError from None
            raise
        except (ConnectionError, OSError):
            return b""
        finally:
            self.deadline = math.inf

    async def _serve_requests(self) -> None:
        while True:
            if self.server.closing.is_set() and not self.parser.buffered_bytes:
                return
            try:
                head = await self._read_head()
            except ProtocolError as exc:
                self.logger.debug("bad request from %s: %s", self.peer, exc)
                await self._reject(exc)
                return
            if head is None:
                return
            if not await self._handle(head):
                return

    async def _reject(self, exc: HttpError) -> None:
        response = error_from(exc)
        data = self._head(response, len(response.body), keep_alive=False, version="HTTP/1.1")
        await send_and_close(self.writer, self.reader, data + response.body, self.limits.linger_s)
        self.logger.info("- - %d %d 0.0ms %s", exc.status, len(response.body), self.peer)

    async def _read_head(self) -> RequestHead | None:
        first_byte_at = self._loop.time() if self.parser.buffered_bytes else None
        while True:
            event = self.parser.next_event()
            if isinstance(event, RequestHead):
                return event
            if first_byte_at is None:
                self.idle = True
                try:
                    data = await self._read(self._loop.time() + self.limits.keepalive_timeout_s)
                except TimeoutError:
                    return None
                finally:
                    self.idle = False
                if not data:
                    return None
                first_byte_at = self._loop.time()
            else:
                try:
                    data = await self._read(first_byte_at + self.limits.header_timeout_s)
                except TimeoutError:
                    raise ProtocolError(408, "timeout", "request head too slow") from None
                if not data:
                    return None
            self.parser.feed(data)

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
            if self._continue_pending:
                self._continue_pending = False
                self.writer.write(_CONTINUE)
                await self._drain()
            rate = self.limits.body_min_rate_bytes_per_s
            deadline = self._body_start + self.limits.body_grace_s + self._body_read / rate
            try:
                data = await self._read(deadline)
            except TimeoutError:
                raise ProtocolError(408, "timeout", "request body too slow") from None
            self.parser.feed(data)

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
            response = await self._call(route, request)
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
        sent, ok = await self._write_response(head, response, keep_alive)
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
            # Closing with unread bytes makes the kernel send RST, which can destroy
            # the response before the client reads it: half-close and drain first.
            await send_and_close(self.writer, self.reader, b"", self.limits.linger_s)
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

    async def _call(self, route: Route, request: Request) -> Response:
        if not route.cancel_on_disconnect:
            return await route.handler(request)
        await request.body()  # long-poll bodies are small; the socket is then ours to watch
        handler = asyncio.ensure_future(route.handler(request))
        watcher = asyncio.ensure_future(self._watch_eof())
        try:
            await asyncio.wait({handler, watcher}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            watcher.cancel()
            if not handler.done():
                handler.cancel()
            await asyncio.gather(watcher, handler, return_exceptions=True)
        if handler.cancelled() and watcher.done() and not watcher.cancelled():
            raise _ClientGoneError
        return handler.result()

    async def _watch_eof(self) -> None:
        # Pipelined bytes are buffered (up to one read size), not taken for EOF.
        while self.parser.buffered_bytes < self.limits.read_chunk_bytes:
            try:
                data = await self.reader.read(self.limits.read_chunk_bytes)
            except (ConnectionError, OSError):
                return
            if not data:
                return
            self.parser.feed(data)
        await asyncio.Event().wait()

    def _head(
        self, response: Response, length: int | None, *, keep_alive: bool, version: str
    ) -> bytes:
        status = response.status
        parts = [_status_line(status), "\r\nDate: ", http_date()]
        has_type = False
        for name, value in response.headers:
            lower = name.lower()
            if lower in _SERVER_HEADERS:
                continue
            check_field(name, value)
            has_type = has_type or lower == "content-type"
            parts += ("\r\n", name, ": ", value)
        if status >= 200 and status not in (204, 304):
            if length is None:
                parts.append("\r\nTransfer-Encoding: chunked")
            else:
                parts += ("\r\nContent-Length: ", str(length))
            if not has_type and (length or length is None):
                parts.append("\r\nContent-Type: application/octet-stream")
        if not keep_alive:
            parts.append("\r\nConnection: close")
        elif version == "HTTP/1.0":
            parts.append("\r\nConnection: keep-alive")
        parts.append("\r\n\r\n")
        return "".join(parts).encode("latin-1")

    async def _drain(self) -> None:
        if self.writer.transport.get_write_buffer_size():
            async with asyncio.timeout(self.limits.write_timeout_s):
                await self.writer.drain()

    async def _write_response(
        self, head: RequestHead, response: Response, keep_alive: bool
    ) -> tuple[int, bool]:
        """Write `response`; returns (body bytes sent, whether the connection is still sound)."""
        stream = response.stream
        length = response.content_length if stream is not None else len(response.body)
        try:
            data = self._head(response, length, keep_alive=keep_alive, version=head.version)
        except ValueError:
            self.logger.exception("invalid response header for %s %s", head.method, head.target)
            stream = None
            response = error_response(500, "internal", "internal server error")
            length = len(response.body)
            data = self._head(response, length, keep_alive=keep_alive, version=head.version)
        no_body = head.method == "HEAD" or response.status in (204, 304)
        if stream is None or no_body:
            if stream is not None:
                await _close_stream(stream)
            self.writer.write(data if no_body else data + response.body)
            await self._drain()
            return (0 if no_body else len(response.body)), True
        self.writer.write(data)
        sent = 0
        try:
            async for chunk in stream:
                sent += len(chunk)
                self.writer.write(chunk if length is not None else encode_chunk(chunk))
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
            self.writer.write(LAST_CHUNK)
        await self._drain()
        return sent, True


async def _close_stream(stream: object) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()
