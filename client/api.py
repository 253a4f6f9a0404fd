"""The base of the chat API client: a request, its JSON, and the server's refusals as errors.

`Api` is one user's view of the server over one `HttpClient`. Each feature
adds its endpoints in a subclass of its own (`client.rooms.RoomsApi`, ...).
JSON calls share the keep-alive connection; uploads and downloads `stream`
on a connection of their own (`client.streaming`), so that a file never
sits whole in memory and never holds up a message. Every answer of 400 and
above becomes an exception here, in one place: `ApiError` for a refusal,
`ServerTroubleError` (a NetworkError, so retried) for 500 and above.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterable, AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final

from attrs import field, frozen

from client.http import HttpClient, HttpResponse, NetworkError
from client.streaming import StreamedResponse, open_stream
from client.terminal import wait_text, when

__all__ = [
    "MAX_JSON_ANSWER_BYTES",
    "POLL_MARGIN_S",
    "Api",
    "ApiError",
    "ApiErrorBody",
    "ServerTroubleError",
    "raise_for_status",
    "refusal_text",
]

_JSON: Final = "application/json; charset=utf-8"
# A JSON answer on a streaming connection (an error, an upload's message) is small.
MAX_JSON_ANSWER_BYTES: Final = 64 * 1024
# A poll of `/events` must be answered within its own timeout plus this much.
POLL_MARGIN_S: Final = 10.0


@frozen(kw_only=True)
class ApiErrorBody:
    """`{"error": {"code", "message", ...}}`; anything else becomes a generic error."""

    code: str
    message: str
    extra: Mapping[str, Any] = field(factory=dict, eq=False)

    @classmethod
    def from_json(cls, value: object, status: int) -> ApiErrorBody:
        """Never raises: a body without the error shape is described by its status."""
        error = value.get("error") if isinstance(value, dict) else None
        if isinstance(error, dict):
            code, message = error.get("code"), error.get("message")
            if isinstance(code, str) and isinstance(message, str):
                extra = {k: v for k, v in error.items() if k not in ("code", "message")}
                return cls(code=code, message=message, extra=extra)
        return cls(code=f"http_{status}", message=f"the server answered {status}")


class ApiError(Exception):
    """The server said no: an HTTP error status with the API's error body."""

    def __init__(self, status: int, body: ApiErrorBody) -> None:
        super().__init__(f"{body.message} ({body.code})")
        self.status = status
        self.code = body.code
        self.message = body.message
        self.extra: Mapping[str, Any] = body.extra


def refusal_text(exc: ApiError) -> str:
    """What the server said, with when a ban ends (`until`) in local time."""
    until = exc.extra.get("until")
    if exc.code == "banned" and isinstance(until, int | float) and not isinstance(until, bool):
        now = time.time()
        left = f", in {wait_text(until - now)}" if until > now else ""
        return f"{exc.message} (until {when(until, now)}{left})"
    return exc.message


class ServerTroubleError(NetworkError):
    """A 5xx answer: the server is overloaded, restarting or failing; worth retrying."""


def raise_for_status(status: int, body: bytes) -> None:
    """Nothing below 400.

    Raises ServerTroubleError for 500 and above, ApiError for the rest
    (with the API's error body when `body` has one).
    """
    if status < 400:
        return
    try:
        decoded: object = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        decoded = None  # a proxy's HTML page, say
    error = ApiErrorBody.from_json(decoded, status)
    if status >= 500:
        raise ServerTroubleError(f"the server answered {status}: {error.message}")
    raise ApiError(status, error)


class Api:
    """One user's view of the server; `token` is None until `connect`."""

    def __init__(self, http: HttpClient, token: str | None = None) -> None:
        self.http = http
        self.token = token

    def _headers(self) -> list[tuple[str, str]]:
        headers = [("Accept", "application/json")]
        if self.token is not None:
            headers.append(("Authorization", f"Bearer {self.token}"))
        return headers

    async def call(
        self,
        method: str,
        target: str,
        payload: Mapping[str, object] | None = None,
        *,
        headers: Sequence[tuple[str, str]] = (),
        timeout_s: float | None = None,
    ) -> HttpResponse:
        """Send one request (`payload` as its JSON body) and read the whole answer.

        Raises ApiError, ServerTroubleError and the errors of `HttpClient.request`.
        """
        all_headers = [*self._headers(), *headers]
        body = b""
        if payload is not None:
            body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            all_headers.append(("Content-Type", _JSON))
        response = await self.http.request(
            method, target, headers=all_headers, body=body, timeout_s=timeout_s
        )
        raise_for_status(response.status, response.body)
        return response

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        target: str,
        *,
        headers: Sequence[tuple[str, str]] = (),
        body: AsyncIterable[bytes] | None = None,
        content_length: int | None = None,
    ) -> AsyncIterator[StreamedResponse]:
        """One exchange on a connection of its own, its body streamed both ways.

        Yields the response once its head is in and it is not an error. Raises
        ApiError, ServerTroubleError and the errors of `open_stream`.
        """
        async with open_stream(
            self.http.origin,
            method,
            target,
            headers=[*self._headers(), *headers],
            body=body,
            content_length=content_length,
            timeout_s=self.http.timeout_s,
            user_agent=self.http.user_agent,
        ) as response:
            if response.status >= 400:
                raise_for_status(response.status, await response.read(MAX_JSON_ANSWER_BYTES))
            yield response
