"""The one table from domain errors to HTTP statuses, and the guard that applies it.

`ERROR_STATUS` maps each domain error class to its status (the error code
itself is the class's `code`). `guarded` wraps every handler: a domain
error becomes its API.md error, a failed log `503 unavailable`; anything
else unexpected is the HTTP layer's `500 internal`.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable

from app import ServiceFailedError
from domain import (
    BadCredentialsError,
    BannedError,
    ConflictError,
    DomainError,
    ForbiddenError,
    InsufficientStorageError,
    LogMismatchError,
    NotFoundError,
    NotMemberError,
    NotOwnerError,
    OffsetOutOfRangeError,
    RateLimitedError,
    TooLargeError,
    UnauthorizedError,
    UnavailableError,
    ValidationError,
)
from transport.server import Handler, Request, Response, error_response

CatchUp = Callable[[], Awaitable[bool]]

__all__ = ["ERROR_STATUS", "UNAVAILABLE_RETRY_AFTER_S", "error_for", "guarded"]

ERROR_STATUS: dict[type[DomainError], int] = {
    ValidationError: 400,
    BadCredentialsError: 401,
    UnauthorizedError: 401,
    ForbiddenError: 403,
    NotMemberError: 403,
    NotOwnerError: 403,
    BannedError: 403,
    RateLimitedError: 429,
    NotFoundError: 404,
    ConflictError: 409,
    TooLargeError: 413,
    OffsetOutOfRangeError: 409,
    LogMismatchError: 409,
    UnavailableError: 503,
    InsufficientStorageError: 507,
}
UNAVAILABLE_RETRY_AFTER_S = 5  # a failed log stops the server: try again after a restart

_BEARER_CHALLENGE = (("WWW-Authenticate", 'Bearer realm="chat"'),)


def error_for(exc: DomainError) -> Response:
    """The HTTP error response for a domain error (never raises)."""
    status = next(
        (s for cls, s in ERROR_STATUS.items() if isinstance(exc, cls)),
        400,
    )
    headers: tuple[tuple[str, str], ...] = ()
    if isinstance(exc, UnauthorizedError):
        headers = _BEARER_CHALLENGE
    elif isinstance(exc, RateLimitedError | InsufficientStorageError | UnavailableError):
        headers = (("Retry-After", str(max(1, math.ceil(exc.retry_after_s)))),)
    return error_response(status, exc.code, str(exc), headers=headers, **exc.extra())


def guarded(handler: Handler, catch_up: CatchUp | None = None) -> Handler:
    """The handler, with domain and service failures answered as API errors.

    With `catch_up` (a replica's), a request refused as unauthorized is
    tried once more when the replica was behind the log and has caught up:
    its token may come from a `/connect` just answered by another replica.
    """

    async def handle(request: Request) -> Response:
        try:
            try:
                return await handler(request)
            except UnauthorizedError:
                if catch_up is None or not await catch_up():
                    raise
            return await handler(request)
        except DomainError as exc:
            return error_for(exc)
        except ServiceFailedError as exc:
            retry = (("Retry-After", str(UNAVAILABLE_RETRY_AFTER_S)),)
            return error_response(503, "unavailable", str(exc), headers=retry)

    return handle
