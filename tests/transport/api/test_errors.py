"""The one table from domain errors to HTTP statuses covers every error."""

from __future__ import annotations

from domain import DomainError, RateLimitedError, TooLargeError, UnauthorizedError
from transport.api.errors import ERROR_STATUS, error_for


def _subclasses(cls: type[DomainError]) -> set[type[DomainError]]:
    found: set[type[DomainError]] = set()
    for sub in cls.__subclasses__():
        found |= {sub} | _subclasses(sub)
    return found


def test_every_domain_error_has_its_status() -> None:
    missing = _subclasses(DomainError) - set(ERROR_STATUS)
    assert not missing


def test_errors_carry_their_headers_and_extras() -> None:
    assert error_for(TooLargeError(10)).status == 413
    limited = error_for(RateLimitedError(12.2, 20))
    assert (limited.status, dict(limited.headers)["Retry-After"]) == (429, "13")
    assert b'"retry_after":12.2' in limited.body
    assert "WWW-Authenticate" in dict(error_for(UnauthorizedError("no")).headers)
