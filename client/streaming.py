"""Requests and responses whose bodies stream, for uploads and downloads.

How this works: `HttpClient` collects whole bodies, which is right for JSON
and wrong for files. `open_stream` runs one exchange on a connection of its
own (`Connection: close`; it never blocks the keep-alive connection that
sends messages). A request body comes from an async iterator of chunks,
framed by `Content-Length` when the caller knows the size, else chunked. It
is written by a task of its own while we wait for the response head, because
a server may answer before it has read the whole body (`413` from the
declared length) and then stop reading: a client that only reads after
writing everything would sit in a full send buffer or see a reset instead of
the answer. The response body is handed out chunk by chunk as it is read.

Deadlines: every step (connect, each write, each read) must make progress
within `timeout_s`, so a large transfer that keeps moving is never cut off
and a stalled one fails. While the request body is still being sent, the
wait for the head has no deadline of its own: the writes carry it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from contextlib import asynccontextmanager

from client.http import (
    READ_CHUNK_BYTES,
    BadResponseError,
    HttpClientError,
    NetworkError,
    Origin,
    ResponseTooLargeError,
    close_writer,
)
from transport.http import (
    LAST_CHUNK,
    NEED_DATA,
    Data,
    EndOfMessage,
    Headers,
    ProtocolError,
    ResponseHead,
    ResponseParser,
    encode_chunk,
    write_request_head,
)

__all__ = ["BodyLengthError", "StreamedResponse", "open_stream"]


class BodyLengthError(HttpClientError):
    """The request body did not have the length declared for it (the file changed).

    Not a NetworkError: sending again would not help.
    """


class _Wire:
    """One connection: reads and writes, each under the step deadline."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, origin: Origin
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.origin = origin

    async def write(self, data: bytes, timeout_s: float) -> None:
        self.writer.write(data)
        async with asyncio.timeout(timeout_s):
            await self.writer.drain()

    async def read(self, timeout_s: float | None) -> bytes:
        try:
            async with asyncio.timeout(timeout_s):
                return await self.reader.read(READ_CHUNK_BYTES)
        except TimeoutError as exc:
            raise NetworkError(f"no answer from {self.origin} in time") from exc
        except OSError as exc:
            raise NetworkError(f"connection to {self.origin} failed: {exc}") from exc

    async def close(self, *, abort: bool) -> None:
        if abort:  # unsent bytes would only hold us up until the close deadline
            self.writer.transport.abort()
            return
        await close_writer(self.writer)


class StreamedResponse:
    """A response whose head has arrived; its body is read on demand."""

    def __init__(
        self,
        head: ResponseHead,
        parser: ResponseParser,
        wire: _Wire,
        timeout_s: float,
        *,
        eof: bool = False,
    ) -> None:
        self.status = head.status
        self.headers: Headers = head.headers
        self._parser = parser
        self._wire = wire
        self._timeout_s = timeout_s
        self._eof = eof
        self.complete = False

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body, piece by piece as it arrives (nothing when already read).

        Raises NetworkError when the connection fails or stalls mid-body,
        BadResponseError for a malformed body.
        """
        while not self.complete:
            try:
                event = self._parser.next_event()
            except ProtocolError as exc:
                if self._eof:
                    raise NetworkError("the server closed the connection mid-response") from exc
                raise BadResponseError(f"malformed response: {exc.message}") from exc
            if event is NEED_DATA:
                if self._eof:
                    raise NetworkError("the server closed the connection mid-response")
                data = await self._wire.read(self._timeout_s)
                self._eof = not data
                self._parser.feed(data)
            elif isinstance(event, Data):
                yield event.data
            elif isinstance(event, EndOfMessage):
                self.complete = True

    async def read(self, max_bytes: int) -> bytes:
        """The whole body, for small answers (errors, JSON).

        Raises ResponseTooLargeError past `max_bytes`, and as `chunks`.
        """
        body = bytearray()
        async for chunk in self.chunks():
            body += chunk
            if len(body) > max_bytes:
                raise ResponseTooLargeError(f"response larger than {max_bytes} bytes")
        return bytes(body)


async def _send_body(
    wire: _Wire, body: AsyncIterable[bytes], content_length: int | None, timeout_s: float
) -> None:
    sent = 0
    async for chunk in body:
        sent += len(chunk)
        if content_length is not None and sent > content_length:
            raise BodyLengthError(f"the body grew past the {content_length} bytes declared")
        await wire.write(chunk if content_length is not None else encode_chunk(chunk), timeout_s)
    if content_length is None:
        await wire.write(LAST_CHUNK, timeout_s)
    elif sent != content_length:
        raise BodyLengthError(f"the body ended at {sent} of the {content_length} bytes declared")


async def _read_head(
    wire: _Wire, parser: ResponseParser, timeout_s: float | None
) -> tuple[ResponseHead, bool]:
    """The final response head, and whether the connection reached EOF."""
    eof = False
    while True:
        try:
            event = parser.next_event()
        except ProtocolError as exc:
            if eof:
                raise NetworkError("the server closed the connection without an answer") from exc
            raise BadResponseError(f"malformed response: {exc.message}") from exc
        if event is NEED_DATA:
            if eof:
                raise NetworkError("the server closed the connection without an answer")
            data = await wire.read(timeout_s)
            eof = not data
            parser.feed(data)
        elif isinstance(event, ResponseHead):
            if event.status >= 200:
                return event, eof
        else:
            raise BadResponseError("response body without a head")


async def _await_head(
    wire: _Wire, parser: ResponseParser, sender: asyncio.Task[None] | None, timeout_s: float
) -> tuple[ResponseHead, bool]:
    if sender is None:
        return await _read_head(wire, parser, timeout_s)
    reading = asyncio.ensure_future(_read_head(wire, parser, None))
    try:
        await asyncio.wait({reading, sender}, return_when=asyncio.FIRST_COMPLETED)
        if not reading.done():
            failure = sender.exception()
            if failure is not None and not isinstance(failure, OSError):
                raise failure
            # Sent (or the server stopped reading, which it does after answering early).
            done, _ = await asyncio.wait({reading}, timeout=timeout_s)
            if not done:
                raise NetworkError(f"no answer from {wire.origin} in time")
        return reading.result()
    finally:
        for task in (reading, sender):
            task.cancel()
        await asyncio.gather(reading, sender, return_exceptions=True)


@asynccontextmanager
async def open_stream(
    origin: Origin,
    method: str,
    target: str,
    *,
    headers: Sequence[tuple[str, str]] = (),
    body: AsyncIterable[bytes] | None = None,
    content_length: int | None = None,
    timeout_s: float,
    user_agent: str = "chat-client/0.1",
) -> AsyncIterator[StreamedResponse]:
    """Send a request (streaming `body`) and yield the response once its head is in.

    Without `body` nothing is sent after the head. Raises NetworkError (cannot
    connect, reset, a step stalled past `timeout_s`), BodyLengthError (`body`
    is not `content_length` long), BadResponseError, ValueError (a header
    that could inject fields).
    """
    all_headers = [
        ("Host", origin.authority),
        ("User-Agent", user_agent),
        ("Connection", "close"),
        *headers,
    ]
    chunked = body is not None and content_length is None
    length = content_length if body is not None else None
    head_bytes = write_request_head(
        method, target, all_headers, content_length=length, chunked=chunked
    )
    try:
        async with asyncio.timeout(timeout_s):
            reader, writer = await asyncio.open_connection(
                origin.host, origin.port, limit=READ_CHUNK_BYTES
            )
    except TimeoutError as exc:
        raise NetworkError(f"cannot reach {origin}: no answer in time") from exc
    except OSError as exc:
        raise NetworkError(f"cannot reach {origin}: {exc.strerror or exc}") from exc
    wire = _Wire(reader, writer, origin)
    finished = False
    try:
        try:
            await wire.write(head_bytes, timeout_s)
        except (OSError, TimeoutError) as exc:
            raise NetworkError(f"connection to {origin} failed: {exc}") from exc
        sender = None
        if body is not None:
            sender = asyncio.ensure_future(_send_body(wire, body, content_length, timeout_s))
        parser = ResponseParser(method)
        head, eof = await _await_head(wire, parser, sender, timeout_s)
        response = StreamedResponse(head, parser, wire, timeout_s, eof=eof)
        yield response
        finished = response.complete
    finally:
        with contextlib.suppress(OSError):
            await wire.close(abort=not finished)
