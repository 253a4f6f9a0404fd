"""Sans-IO writers: requests and response heads to bytes, chunked encoding.

Every header field is checked for CR, LF and other control characters before
it is written (no header injection).
"""

from __future__ import annotations

from typing import Final

from transport.http.codec import METHOD_PATTERN, TARGET_PATTERN
from transport.http.headers import check_field

__all__ = [
    "LAST_CHUNK",
    "REASONS",
    "encode_chunk",
    "write_request",
    "write_request_head",
    "write_response_head",
]

REASONS: Final[dict[int, str]] = {
    100: "Continue", 200: "OK", 201: "Created", 202: "Accepted", 204: "No Content",
    206: "Partial Content", 301: "Moved Permanently", 302: "Found", 304: "Not Modified",
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 408: "Request Timeout", 409: "Conflict", 410: "Gone",
    413: "Content Too Large", 414: "URI Too Long", 415: "Unsupported Media Type",
    416: "Range Not Satisfiable", 417: "Expectation Failed", 422: "Unprocessable Content",
    429: "Too Many Requests", 431: "Request Header Fields Too Large",
    500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Gateway Timeout", 505: "HTTP Version Not Supported",
}  # fmt: skip


def _encode_fields(lines: list[str], headers: list[tuple[str, str]]) -> None:
    for name, value in headers:
        check_field(name, value)
        lines.append(f"{name}: {value}")


def write_response_head(
    status: int, headers: list[tuple[str, str]], *, reason: str | None = None
) -> bytes:
    """Encode a status line and header fields (framing headers included by the caller).

    Raises ValueError for a header name or value that could inject a field.
    """
    lines = [f"HTTP/1.1 {status} {reason or REASONS.get(status, 'Unknown')}"]
    _encode_fields(lines, headers)
    lines.append("\r\n")
    return "\r\n".join(lines).encode("latin-1")


def write_request_head(
    method: str,
    target: str,
    headers: list[tuple[str, str]],
    *,
    content_length: int | None = None,
    chunked: bool = False,
) -> bytes:
    """Encode a request line and header fields, adding the framing header.

    Raises ValueError for an invalid method, target or header field.
    """
    if METHOD_PATTERN.fullmatch(method.encode("latin-1")) is None:
        raise ValueError(f"invalid method {method!r}")
    if TARGET_PATTERN.fullmatch(target.encode("utf-8")) is None:
        raise ValueError(f"invalid request target {target!r}")
    lines = [f"{method} {target} HTTP/1.1"]
    framing = list(headers)
    if chunked:
        framing.append(("Transfer-Encoding", "chunked"))
    elif content_length is not None:
        framing.append(("Content-Length", str(content_length)))
    _encode_fields(lines, framing)
    lines.append("\r\n")
    return "\r\n".join(lines).encode("latin-1")


def write_request(
    method: str, target: str, headers: list[tuple[str, str]], body: bytes = b""
) -> bytes:
    """Encode a whole request with a `Content-Length` body (the caller adds `Host`).

    Raises ValueError like `write_request_head`.
    """
    length = len(body) if body or method in ("POST", "PUT", "PATCH") else None
    return write_request_head(method, target, headers, content_length=length) + body


LAST_CHUNK: Final = b"0\r\n\r\n"


def encode_chunk(data: bytes) -> bytes:
    """Encode one chunk of a chunked body (empty data encodes to nothing)."""
    if not data:
        return b""
    return b"%x\r\n%b\r\n" % (len(data), data)
