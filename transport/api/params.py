"""What handlers read from a request besides its JSON body: path ids, query numbers, lengths.

Whole numbers are matched as plain ASCII digits (at most 19) before they
are converted, never `int()` on raw input alone (it accepts `+1`, `1_0`,
` 1` and non-ASCII digits); seconds are what `float()` reads in ASCII, if
finite and not negative. An empty query value counts as none. A malformed
query number is `400 validation_failed` naming the parameter; a path id
that is not a number names nothing (`404`).
"""

from __future__ import annotations

import math

from domain import NotFoundError, ValidationError
from transport.server import Request

__all__ = ["MAX_DIGITS", "natural", "query_int", "query_seconds", "path_id"]

MAX_DIGITS = 19  # an offset fits in a signed 64-bit integer


def natural(raw: str) -> int | None:
    """A non-negative integer in plain ASCII digits, or None (never raises)."""
    if raw.isascii() and raw.isdigit() and len(raw) <= MAX_DIGITS:
        return int(raw)
    return None


def query_int(request: Request, name: str, *, required: bool = False) -> int | None:
    """Query parameter `name` as a non-negative integer; None when absent or empty.

    Raises ValidationError naming `name` when it is not such a number, or
    missing and `required`.
    """
    raw = request.query_one(name)
    if raw is None or raw == "":
        if required:
            raise ValidationError(f"query parameter {name!r} is required", field=name)
        return None
    value = natural(raw)
    if value is None:
        raise ValidationError(f"{name} must be a non-negative integer", field=name)
    return value


def query_seconds(request: Request, name: str) -> float | None:
    """Query parameter `name` as a finite, non-negative number of seconds; None when absent.

    Raises ValidationError naming `name` for anything else.
    """
    raw = request.query_one(name)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or not raw.isascii():
        raise ValidationError(f"{name} must be a number of seconds", field=name)
    return value


def path_id(request: Request, what: str) -> int:
    """The numeric `{id}` of the path.

    Raises NotFoundError naming `what` when it is not a number: it names nothing.
    """
    raw = request.path_params["id"]
    value = natural(raw)
    if value is None:
        raise NotFoundError(f"there is no {what} {raw!r}")
    return value
