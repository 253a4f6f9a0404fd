"""Checks of request inputs that are not domain rules (keys, times)."""

from __future__ import annotations

import math

from domain import ValidationError, check_user_name

_MAX_IDEMPOTENCY_KEY = 64


_LATEST_TIME_S = 1e12  # about the year 33658: later is not a time anyone means


def check_send_at(value: object) -> float:
    """`send_at` as a float of Unix seconds. Raises ValidationError."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not -_LATEST_TIME_S <= value <= _LATEST_TIME_S  # huge ints overflow float()
        or not math.isfinite(value)
    ):
        raise ValidationError("send_at must be a time in Unix seconds", field="send_at")
    return float(value)


def check_idempotency_key(key: str) -> None:
    """Raise ValidationError unless the key is 1-64 printable ASCII characters."""
    if not 1 <= len(key) <= _MAX_IDEMPOTENCY_KEY or not all(" " < c <= "~" for c in key):
        raise ValidationError(
            "Idempotency-Key must be 1 to 64 printable ASCII characters",
            field="Idempotency-Key",
        )


def check_target(room: object, to: object) -> tuple[str | None, str | None]:
    """The room or the user a message goes to (both None: `general`).

    Raises ValidationError for a non-string room, a bad user name, or both given.
    """
    if room is not None and not isinstance(room, str):
        raise ValidationError("room must be a string", field="room")
    if to is None:
        return room, None
    if room is not None:
        raise ValidationError("give either room or to, not both", field="to")
    return None, check_user_name(to, field="to")


def check_limit(limit: int | None, default: int, maximum: int) -> int:
    """A page size from the request, or the default. Raises ValidationError."""
    if limit is None:
        return default
    if not 1 <= limit <= maximum:
        raise ValidationError(f"limit must be between 1 and {maximum}", field="limit")
    return limit


def utf8_size(text: str) -> int:
    """How many bytes a text takes as UTF-8 (what write budgets count)."""
    return len(text.encode("utf-8", "surrogatepass"))
