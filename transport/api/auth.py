"""Who is calling: the bearer token of a request (RFC 6750 section 2.1)."""

from __future__ import annotations

from transport.http import Headers

__all__ = ["bearer_token"]


def bearer_token(headers: Headers) -> str:
    """The token of `Authorization: Bearer <token>`; "" when there is none (never raises).

    The scheme is case-insensitive (RFC 9110 section 11.1); any other scheme
    carries no token of ours.
    """
    header = headers.get("authorization") or ""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return ""
    return token.strip()
