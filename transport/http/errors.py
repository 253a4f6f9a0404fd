"""Errors the HTTP layer answers with, and the error codes it adds to API.md.

Codes produced by the HTTP layer itself, beyond those listed in API.md
(`bad_request`, `not_found`, `method_not_allowed`, `too_large`,
`unsupported_media_type`, `bad_json`, `internal`):

- `uri_too_long` (414): request line longer than the limit.
- `headers_too_large` (431): header section or field count over the limit.
- `version_not_supported` (505): an HTTP version other than 1.0 and 1.1.
- `not_implemented` (501): unknown method or transfer coding.
- `expectation_failed` (417): an `Expect` other than `100-continue`.
- `timeout` (408): the request did not arrive within its deadlines.
- `unavailable` (503): too many open connections, in all or from one
  address, or the server is shutting down; comes with `Retry-After`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["HttpError", "ProtocolError"]


class HttpError(Exception):
    """An error that becomes an HTTP error response `{"error": {...}}`.

    Handlers may raise it; the server answers with `status`, the JSON error
    body built from `code`, `message` and `extra`, and `headers`.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: tuple[tuple[str, str], ...] = (),
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
        self.extra: Mapping[str, Any] = extra or {}


class ProtocolError(HttpError):
    """A framing or syntax error: the connection cannot be trusted any more.

    The server answers with `status` and `Connection: close`, then closes.
    """

    def __init__(
        self, status: int, code: str, message: str, *, extra: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(status, code, message, extra=extra)
