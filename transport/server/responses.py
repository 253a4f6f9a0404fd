"""Encoding response heads as the server sends them: Date, framing, checked fields."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable
from email.utils import formatdate

from transport.http import REASONS, HttpError, check_field
from transport.server.exchange import Response, error_response

__all__ = ["encode_head", "error_from", "http_date"]

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


def _header_block(fields: Iterable[tuple[str, str]]) -> tuple[str, bool]:
    """A handler's header fields, each as CRLF + `name: value` (framing ones dropped),
    and whether Content-Type is among them.

    Raises ValueError for a field that could inject another (not cached).
    """
    parts: list[str] = []
    has_type = False
    for name, value in fields:
        lower = name.lower()
        if lower in _SERVER_HEADERS:
            continue
        check_field(name, value)
        has_type = has_type or lower == "content-type"
        parts += ("\r\n", name, ": ", value)
    return "".join(parts), has_type


# Most responses repeat one of a few header sets (Content-Type and little else).
_cached_header_block = functools.lru_cache(maxsize=1024)(_header_block)


def error_from(exc: HttpError) -> Response:
    """The API.md error response for `exc`."""
    return error_response(exc.status, exc.code, exc.message, headers=exc.headers, **exc.extra)


def encode_head(response: Response, length: int | None, *, keep_alive: bool, version: str) -> bytes:
    """The status line and header section for `response` with a body of `length` bytes
    (`None`: chunked), adding Date and the framing and Connection fields.

    Raises ValueError for a handler's field that could inject another, or that
    does not encode as latin-1.
    """
    status = response.status
    fields = response.headers
    block, has_type = (
        _cached_header_block(fields) if type(fields) is tuple else _header_block(fields)
    )
    parts = [_status_line(status), "\r\nDate: ", http_date(), block]
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
