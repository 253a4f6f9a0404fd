"""Requests as handlers see them, responses they return, and JSON helpers."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote_to_bytes

from attrs import define, field, frozen

from transport.http import Headers, HttpError
from transport.server.limits import HttpLimits
from transport.server.strict_json import loads_strict

__all__ = [
    "BodySource",
    "Request",
    "Response",
    "empty",
    "error_response",
    "json_response",
    "read_json",
    "stream_response",
    "wait_for_event",
    "JSON_CONTENT_TYPE",
]

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
_DEFAULT_LIMITS = HttpLimits()


class BodySource(Protocol):
    """Where a request's body comes from (the connection, or a test fake)."""

    async def read_body_chunk(self) -> bytes:
        """The next piece of the body, `b""` at its end.

        Raises HttpError: 413 over the limit, 408 too slow, 400 malformed.
        """
        ...


# Unicode's control characters (category Cc: C0, DEL, C1), refused once percent-decoded.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def decode_path(raw_path: str) -> str:
    """Percent-decode a path as UTF-8.

    Raises HttpError 400 for invalid UTF-8 or control characters.
    """
    if "%" not in raw_path:  # the request target is visible ASCII: nothing to decode
        return raw_path
    try:
        path = unquote_to_bytes(raw_path).decode("utf-8")
    except UnicodeDecodeError:
        raise HttpError(400, "bad_request", "path is not valid UTF-8") from None
    if _CONTROL.search(path) is not None:
        raise HttpError(400, "bad_request", "control character in path")
    return path


def decode_query(raw_query: str) -> dict[str, list[str]]:
    """Parse a query string: each percent-decoded UTF-8 name with every value, in order.

    Raises HttpError 400 for invalid UTF-8 or control characters (never
    replaced: a name stored as U+FFFD is worse than a refusal).
    """
    try:
        query = parse_qs(raw_query, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise HttpError(400, "bad_request", "query is not valid UTF-8") from None
    if "%" in raw_query:
        for name, values in query.items():
            if _CONTROL.search(name) is not None or any(_CONTROL.search(v) for v in values):
                raise HttpError(400, "bad_request", "control character in query")
    return query


@define(kw_only=True, eq=False)
class Request:
    """One HTTP request; the body is read lazily through `body()` or `stream()`."""

    method: str
    target: str
    version: str
    headers: Headers
    peer: str
    raw_path: str
    raw_query: str
    path_params: dict[str, str] = field(factory=dict)
    max_body_bytes: int
    # The body length the head declared, checked by the codec (None: chunked, or no body).
    content_length: int | None = None
    closing: asyncio.Event  # set when the server shuts down: long polls answer at once
    limits: HttpLimits = _DEFAULT_LIMITS  # the server's (read_json takes its JSON bounds)
    _source: BodySource
    _query: dict[str, list[str]] | None = None
    _body: bytes | None = None
    _consumed: bool = False

    @property
    def path(self) -> str:
        """The percent-decoded path (without the query).

        Raises HttpError 400 when it does not decode as UTF-8.
        """
        return decode_path(self.raw_path)

    @property
    def query(self) -> dict[str, list[str]]:
        """Query parameters, each name with every value in order.

        Raises HttpError 400 when the query does not decode as UTF-8 or
        holds control characters.
        """
        if self._query is None:
            self._query = decode_query(self.raw_query)
        return self._query

    def query_one(self, name: str, default: str | None = None) -> str | None:
        """The first value of query parameter `name`, or `default`.

        Raises the errors of `query`.
        """
        values = self.query.get(name)
        return values[0] if values else default

    async def stream(self) -> AsyncIterator[bytes]:
        """Yield the body piece by piece (sends `100 Continue` first if asked).

        Raises HttpError 413 past max_body_bytes, 408 when the body is too slow,
        400 for a malformed body; RuntimeError when the body was already read.
        """
        if self._consumed:
            raise RuntimeError("request body already consumed")
        self._consumed = True
        while chunk := await self._source.read_body_chunk():
            yield chunk

    async def body(self) -> bytes:
        """The whole body (read once, then cached).

        Raises the errors of `stream()`.
        """
        if self._body is None:
            self._body = b"".join([chunk async for chunk in self.stream()])
        return self._body


@frozen(kw_only=True)
class Response:
    """A response: `body` bytes, or `stream` (Content-Length if `content_length`, else chunked).

    An `open_ended` stream (Server-Sent Events) stays open until the server
    ends it, with long quiet stretches: its minimum rate is counted from the
    last moment the client had taken everything, and it stops when the
    client goes away.
    """

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    stream: AsyncIterable[bytes] | None = None
    content_length: int | None = None
    open_ended: bool = False


# One encoder: json.dumps() with non-default options builds a new one per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _dumps(obj: object) -> bytes:
    return _ENCODER.encode(obj).encode("utf-8")


def json_response(
    status: int, obj: object, *, headers: tuple[tuple[str, str], ...] = ()
) -> Response:
    """A JSON response (`application/json; charset=utf-8`, compact, UTF-8).

    Raises TypeError when `obj` is not JSON-serialisable.
    """
    return Response(
        status=status, headers=(("Content-Type", JSON_CONTENT_TYPE), *headers), body=_dumps(obj)
    )


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    headers: tuple[tuple[str, str], ...] = (),
    **extra: object,
) -> Response:
    """The API.md error body `{"error": {"code", "message", ...extra}}`."""
    return json_response(
        status, {"error": {"code": code, "message": message, **extra}}, headers=headers
    )


def empty(status: int = 204, *, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    """A response without a body (204 by default)."""
    return Response(status=status, headers=headers)


def stream_response(
    status: int,
    chunks: AsyncIterable[bytes],
    *,
    content_type: str = "application/octet-stream",
    content_length: int | None = None,
    headers: tuple[tuple[str, str], ...] = (),
) -> Response:
    """A streamed response; chunked unless `content_length` is given."""
    return Response(
        status=status,
        headers=(("Content-Type", content_type), *headers),
        stream=chunks,
        content_length=content_length,
    )


async def read_json(request: Request) -> dict[str, Any]:
    """Read the body as a JSON object.

    Raises HttpError 415 `unsupported_media_type` when the Content-Type is not
    `application/json` (parameters such as charset allowed), 400 `bad_json`
    when the body is not UTF-8 JSON, not an object, or holds what the service
    cannot represent (`strict_json`), and the errors of `Request.body()`.
    """
    content_type = request.headers.get("content-type", "") or ""
    media_type = content_type.split(";", 1)[0].strip(" \t").lower()
    if media_type != "application/json":
        raise HttpError(415, "unsupported_media_type", "expected Content-Type application/json")
    body = await request.body()
    limits = request.limits
    try:
        obj = loads_strict(
            body,
            max_depth=limits.max_json_depth,
            max_integer_digits=limits.max_json_integer_digits,
        )
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise HttpError(400, "bad_json", "request body is not valid JSON") from None
    if not isinstance(obj, dict):
        raise HttpError(400, "bad_json", "request body must be a JSON object")
    return obj


async def wait_for_event(
    request: Request,
    event: asyncio.Event | Callable[[], Any],
    *,
    timeout_s: float,
) -> bool:
    """Long-poll helper: wait until `event` is set, the timeout passes or the server closes.

    `event` may also be a callable returning an awaitable (e.g. a condition
    wait). Returns True when the event fired, False on timeout or shutdown.
    """
    if isinstance(event, asyncio.Event) and event.is_set():
        return True
    if request.closing.is_set():
        return False
    waiter = asyncio.ensure_future(event.wait() if isinstance(event, asyncio.Event) else event())
    closer = asyncio.ensure_future(request.closing.wait())
    try:
        done, _ = await asyncio.wait(
            {waiter, closer}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        for task in (waiter, closer):
            task.cancel()
        await asyncio.gather(waiter, closer, return_exceptions=True)
    return waiter in done and not waiter.cancelled()
