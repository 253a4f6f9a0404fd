"""An async HTTP/1.1 client on asyncio streams, built on the sans-IO codec.

How this works: one `HttpClient` talks to one origin over at most one
keep-alive connection, one request at a time (a lock serialises callers; a
long poll therefore needs a client of its own). Each request runs under one
deadline covering connect, write and the whole response. Bytes read from the
socket go into a `ResponseParser`; the body is collected up to
`max_response_bytes`.

`ResponseReader` is the one loop that reads a response: bytes in, the final
head out, then the body piece by piece. The keep-alive client collects the
body; the streaming connection (`client.streaming`) hands it out as it comes.
When the connection ends mid-response, what the parser makes of the cut is
a NetworkError (the answer is lost), not a BadResponseError.

A keep-alive connection the server closed while it sat idle shows up as EOF
or a reset before the first byte of the response. Such a request never
reached the server's handler, but we only repeat it (once, on a fresh
connection) when repeating is harmless: safe methods, and requests that carry
an `Idempotency-Key`.
"""

from __future__ import annotations

import asyncio
import json
import re
import string
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from contextlib import aclosing
from typing import Any, Final

from attrs import frozen

from transport.http import (
    Data,
    EndOfMessage,
    Headers,
    NeedData,
    ProtocolError,
    ResponseHead,
    ResponseParser,
    write_request,
)

__all__ = [
    "BadResponseError",
    "HttpClient",
    "HttpClientError",
    "HttpResponse",
    "NetworkError",
    "Origin",
    "ResponseReader",
    "ResponseTooLargeError",
    "decode_json",
    "encode_query",
    "quote",
]

DEFAULT_TIMEOUT_S: Final = 10.0
# Large enough for a page of 1000 events of 4000-character messages.
DEFAULT_MAX_RESPONSE_BYTES: Final = 32 * 1024 * 1024
READ_CHUNK_BYTES: Final = 64 * 1024
CLOSE_TIMEOUT_S: Final = 1.0
# RFC 9110 section 9.2.2: repeating these has the same effect as sending once.
IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_UNRESERVED: Final = frozenset((string.ascii_letters + string.digits + "-._~").encode())
_URL = re.compile(r"http://(\[[0-9A-Fa-f:.]+\]|[^/:?#\[\]@\s]+)(?::([0-9]{1,5}))?/?")
CLOSED_MID_RESPONSE: Final = "the server closed the connection mid-response"
CLOSED_UNANSWERED: Final = "the server closed the connection without an answer"


class HttpClientError(Exception):
    """Base of the errors of this client (the server's own answers are not errors)."""


class NetworkError(HttpClientError):
    """The server could not be reached, or the connection failed or timed out."""


class BadResponseError(HttpClientError):
    """The server's answer is not valid HTTP or not the JSON we expected."""


class ResponseTooLargeError(HttpClientError):
    """The response body is larger than the client accepts."""


@frozen(kw_only=True)
class Origin:
    """Where the server is: `http://host:port` (no path, no TLS)."""

    host: str
    port: int

    @classmethod
    def parse(cls, url: str) -> Origin:
        """Parse `http://host[:port][/]` (port 80 by default).

        Raises ValueError for anything else (other schemes, paths, bad ports).
        """
        match = _URL.fullmatch(url.strip())
        if match is None:
            raise ValueError(f"not an http://host:port URL: {url!r}")
        port = int(match[2]) if match[2] else 80
        if not 0 < port < 65536:
            raise ValueError(f"port out of range in {url!r}")
        return cls(host=match[1].strip("[]"), port=port)

    @property
    def authority(self) -> str:
        """The `Host` header value."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == 80 else f"{host}:{self.port}"

    def __str__(self) -> str:
        return f"http://{self.authority}"


def quote(text: str) -> str:
    """Percent-encode `text` as UTF-8, leaving only RFC 3986 unreserved characters."""
    return "".join(
        chr(byte) if byte in _UNRESERVED else f"%{byte:02X}" for byte in text.encode("utf-8")
    )


def encode_query(params: Mapping[str, object | None]) -> str:
    """`?a=1&b=x` from the parameters that are not None (empty string when none)."""
    parts = [
        f"{quote(name)}={quote(str(value))}" for name, value in params.items() if value is not None
    ]
    return "?" + "&".join(parts) if parts else ""


@frozen(kw_only=True)
class HttpResponse:
    """A complete response."""

    status: int
    headers: Headers
    body: bytes

    def json(self) -> Any:
        """The body decoded as JSON.

        Raises BadResponseError when it is not UTF-8 JSON.
        """
        return decode_json(self.body, self.status)


def decode_json(body: bytes, status: int) -> Any:
    """`body` (of a response with `status`) decoded as JSON.

    Raises BadResponseError when it is not UTF-8 JSON.
    """
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadResponseError(f"response {status} is not JSON") from exc


class ResponseReader:
    """One response read through a `ResponseParser`: its final head, then its body.

    `read` returns the next bytes of the connection, b"" at its end.
    """

    def __init__(self, parser: ResponseParser, read: Callable[[], Awaitable[bytes]]) -> None:
        self.parser = parser
        self._read = read
        self.eof = False
        self.complete = False

    async def head(self, *, cut_short: str = CLOSED_MID_RESPONSE) -> ResponseHead:
        """The final head (interim 1xx heads are skipped).

        Raises NetworkError(`cut_short`) when the connection ends first,
        BadResponseError for a malformed head or a body without one, and
        whatever `read` raises.
        """
        while True:
            event = await self._next_event(cut_short)
            if not isinstance(event, ResponseHead):
                raise BadResponseError("response body without a head")
            if event.status >= 200:
                return event

    async def chunks(self) -> AsyncGenerator[bytes, None]:
        """The body, piece by piece as it arrives (nothing once it is complete).

        Raises NetworkError when the connection ends mid-body, BadResponseError
        for a malformed body, and whatever `read` raises.
        """
        while not self.complete:
            event = await self._next_event(CLOSED_MID_RESPONSE)
            if isinstance(event, Data):
                yield event.data
            elif isinstance(event, EndOfMessage):
                self.complete = True

    async def _next_event(self, cut_short: str) -> ResponseHead | Data | EndOfMessage:
        while True:
            try:
                event = self.parser.next_event()
            except ProtocolError as exc:
                if self.eof:  # the parser saw the end of a response cut short
                    raise NetworkError(cut_short) from exc
                raise BadResponseError(f"malformed response: {exc.message}") from exc
            if not isinstance(event, NeedData):
                return event
            if self.eof:
                raise NetworkError(cut_short)
            data = await self._read()
            self.eof = not data
            self.parser.feed(data)


class _StaleConnectionError(Exception):
    """The connection ended before the first byte of the response."""


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @property
    def usable(self) -> bool:
        return not self.reader.at_eof() and not self.writer.is_closing()

    async def close(self) -> None:
        await close_writer(self.writer)


async def close_writer(writer: asyncio.StreamWriter) -> None:
    """Close a connection within CLOSE_TIMEOUT_S, aborting it past that.

    A peer that reads nothing could keep unsent bytes (and us) waiting.
    """
    writer.close()
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT_S):
            await writer.wait_closed()
    except (OSError, TimeoutError):
        writer.transport.abort()


class HttpClient:
    """Keep-alive HTTP/1.1 client for one origin; every request runs under a deadline."""

    def __init__(
        self,
        origin: Origin,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        user_agent: str = "chat-client/0.1",
    ) -> None:
        self.origin = origin
        self.timeout_s = timeout_s
        self.max_response_bytes = max_response_bytes
        self.user_agent = user_agent
        self.connections_opened = 0
        self._connection: _Connection | None = None
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the keep-alive connection, if any."""
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()

    async def request(
        self,
        method: str,
        target: str,
        *,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
        timeout_s: float | None = None,
    ) -> HttpResponse:
        """Send one request and read the whole response.

        Raises NetworkError (cannot connect, closed or reset mid-response,
        deadline passed), BadResponseError (malformed HTTP),
        ResponseTooLargeError, ValueError (a header that could inject fields).
        """
        all_headers = [("Host", self.origin.authority), ("User-Agent", self.user_agent)]
        all_headers += headers
        data = write_request(method, target, all_headers, body)
        retry_safe = method in IDEMPOTENT_METHODS or any(
            name.lower() == "idempotency-key" for name, _ in headers
        )
        async with self._lock:
            try:
                async with asyncio.timeout(timeout_s if timeout_s is not None else self.timeout_s):
                    reused = self._connection is not None and self._connection.usable
                    try:
                        return await self._exchange(method, data)
                    except _StaleConnectionError as exc:
                        if not (reused and retry_safe):
                            raise NetworkError("the server closed the connection") from exc
                    # The idle connection was dead; one more try on a fresh one.
                    await self.close()
                    try:
                        return await self._exchange(method, data)
                    except _StaleConnectionError as exc:
                        raise NetworkError("the server closed the connection") from exc
            except TimeoutError as exc:
                await self.close()
                raise NetworkError(f"no answer from {self.origin} in time") from exc
            except BaseException:
                await self.close()  # never reuse a connection in an unknown state
                raise

    async def _connect(self) -> _Connection:
        if self._connection is not None and self._connection.usable:
            return self._connection
        await self.close()
        try:
            reader, writer = await asyncio.open_connection(
                self.origin.host, self.origin.port, limit=READ_CHUNK_BYTES
            )
        except OSError as exc:
            raise NetworkError(f"cannot reach {self.origin}: {exc.strerror or exc}") from exc
        self.connections_opened += 1
        self._connection = _Connection(reader, writer)
        return self._connection

    async def _exchange(self, method: str, data: bytes) -> HttpResponse:
        connection = await self._connect()
        try:
            connection.writer.write(data)
            await connection.writer.drain()
        except OSError as exc:
            await self.close()
            raise _StaleConnectionError from exc
        response = ResponseReader(ResponseParser(method), self._reads(connection))
        head = await response.head()
        self._check_announced_length(head)
        body = bytearray()
        async with aclosing(response.chunks()) as chunks:
            async for chunk in chunks:
                body += chunk
                if len(body) > self.max_response_bytes:
                    raise ResponseTooLargeError(
                        f"response larger than {self.max_response_bytes} bytes"
                    )
        parser = response.parser
        if not self._keeps_alive(head) or parser.buffered_bytes or parser.in_body:
            await self.close()
        return HttpResponse(status=head.status, headers=head.headers, body=bytes(body))

    def _reads(self, connection: _Connection) -> Callable[[], Awaitable[bytes]]:
        """Reads for one response; its end before the first byte means a stale connection."""
        received = False

        async def read() -> bytes:
            nonlocal received
            try:
                chunk = await connection.reader.read(READ_CHUNK_BYTES)
            except OSError as exc:
                if not received:
                    raise _StaleConnectionError from exc
                raise NetworkError(f"connection to {self.origin} failed: {exc}") from exc
            if not chunk and not received:
                raise _StaleConnectionError
            received = True
            return chunk

        return read

    def _check_announced_length(self, head: ResponseHead) -> None:
        # Refuse at once what would be refused after reading (the parser has
        # already checked that the value is digits only).
        length = head.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_response_bytes:
            raise ResponseTooLargeError(f"response of {length} bytes is larger than the cap")

    @staticmethod
    def _keeps_alive(head: ResponseHead) -> bool:
        tokens = head.headers.get_tokens("connection")
        if "close" in tokens:
            return False
        framed = "content-length" in head.headers or "transfer-encoding" in head.headers
        no_body = head.status in (204, 304)
        if not (framed or no_body):
            return False  # read until close: the connection is spent
        return head.version == "HTTP/1.1" or "keep-alive" in tokens
