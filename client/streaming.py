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
wait for the head has no deadline of its own: the writes carry it. The
response is read by the same `ResponseReader` as the keep-alive client's.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from contextlib import asynccontextmanager

from client.http import (
    CLOSED_UNANSWERED,
    READ_CHUNK_BYTES,
    HttpClientError,
    NetworkError,
    Origin,
    ResponseReader,
    ResponseTooLargeError,
    close_writer,
)
from transport.http import (
    LAST_CHUNK,
    Headers,
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
    """One connection: each write, and each read, must make progress within its deadline."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        origin: Origin,
        timeout_s: float,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.origin = origin
        self.timeout_s = timeout_s
        # None while the request body is being sent: the writes carry the deadline.
        self.read_timeout_s: float | None = timeout_s

    async def write(self, data: bytes) -> None:
        self.writer.write(data)
        async with asyncio.timeout(self.timeout_s):
            await self.writer.drain()

    async def read(self) -> bytes:
        try:
            async with asyncio.timeout(self.read_timeout_s):
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

    def __init__(self, head: ResponseHead, reader: ResponseReader) -> None:
        self.status = head.status
        self.headers: Headers = head.headers
        self._reader = reader

    @property
    def complete(self) -> bool:
        """Whether the whole body has been read."""
        return self._reader.complete

    def chunks(self) -> AsyncIterator[bytes]:
        """The body, piece by piece as it arrives (nothing when already read).

        Raises NetworkError when the connection fails or stalls mid-body,
        BadResponseError for a malformed body.
        """
        return self._reader.chunks()

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


async def _send_body(wire: _Wire, body: AsyncIterable[bytes], content_length: int | None) -> None:
    sent = 0
    async for chunk in body:
        sent += len(chunk)
        if content_length is not None and sent > content_length:
            raise BodyLengthError(f"the body grew past the {content_length} bytes declared")
        await wire.write(chunk if content_length is not None else encode_chunk(chunk))
    if content_length is None:
        await wire.write(LAST_CHUNK)
    elif sent != content_length:
        raise BodyLengthError(f"the body ended at {sent} of the {content_length} bytes declared")


async def _await_head(
    wire: _Wire, response: ResponseReader, sender: asyncio.Task[None] | None
) -> ResponseHead:
    if sender is None:
        return await response.head(cut_short=CLOSED_UNANSWERED)
    wire.read_timeout_s = None
    reading = asyncio.ensure_future(response.head(cut_short=CLOSED_UNANSWERED))
    try:
        await asyncio.wait({reading, sender}, return_when=asyncio.FIRST_COMPLETED)
        if not reading.done():
            failure = sender.exception()
            if failure is not None and not isinstance(failure, OSError):
                raise failure
            # Sent (or the server stopped reading, which it does after answering early).
            done, _ = await asyncio.wait({reading}, timeout=wire.timeout_s)
            if not done:
                raise NetworkError(f"no answer from {wire.origin} in time")
        return reading.result()
    finally:
        for task in (reading, sender):
            task.cancel()
        await asyncio.gather(reading, sender, return_exceptions=True)
        wire.read_timeout_s = wire.timeout_s


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
    wire = _Wire(reader, writer, origin, timeout_s)
    finished = False
    try:
        try:
            await wire.write(head_bytes)
        except (OSError, TimeoutError) as exc:
            raise NetworkError(f"connection to {origin} failed: {exc}") from exc
        sender = None
        if body is not None:
            sender = asyncio.ensure_future(_send_body(wire, body, content_length))
        answer = ResponseReader(ResponseParser(method), wire.read)
        response = StreamedResponse(await _await_head(wire, answer, sender), answer)
        yield response
        finished = response.complete
    finally:
        with contextlib.suppress(OSError):
            await wire.close(abort=not finished)
