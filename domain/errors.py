"""Domain errors: each subclass names the API.md error code it maps to.

The transport holds the one table from these classes to HTTP statuses; data a
client needs (the field, the head offset) travels in attributes and `extra()`.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every rule violation a command can hit; `code` is the API.md code."""

    code = "domain_error"

    def extra(self) -> dict[str, Any]:
        """Fields added to the error body beside `code` and `message`."""
        return {}


class ValidationError(DomainError):
    """A command field breaks a rule (400 validation_failed); `field` names it."""

    code = "validation_failed"

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field

    def extra(self) -> dict[str, Any]:
        return {"field": self.field}


class BadCredentialsError(DomainError):
    """Wrong password for a known user (401 bad_credentials)."""

    code = "bad_credentials"


class UnauthorizedError(DomainError):
    """A missing, unknown or revoked session token (401 unauthorized)."""

    code = "unauthorized"


class NotMemberError(DomainError):
    """The user is not a member of the room (403 not_member)."""

    code = "not_member"


class NotFoundError(DomainError):
    """An unknown room, user or message (404 not_found)."""

    code = "not_found"


class ConflictError(DomainError):
    """The command conflicts with the current state (409 conflict)."""

    code = "conflict"


class OffsetOutOfRangeError(DomainError):
    """A poll `after` past the head, or before what the log keeps (409 offset_out_of_range)."""

    code = "offset_out_of_range"

    def __init__(self, after: int, head: int, *, deleted: bool = False) -> None:
        super().__init__(
            f"the events after offset {after} are no longer kept (the head is {head})"
            if deleted
            else f"offset {after} is beyond the head of the log ({head})"
        )
        self.after = after
        self.head = head

    def extra(self) -> dict[str, Any]:
        return {"head": self.head}


class LogMismatchError(DomainError):
    """The client's log id is not this server's log (409 log_mismatch)."""

    code = "log_mismatch"

    def __init__(self, expected: str, given: str) -> None:
        super().__init__(
            f"this server's log is {expected}, not {given}: start over from /connect or /status"
        )
        self.expected = expected
        self.given = given

    def extra(self) -> dict[str, Any]:
        return {"log": self.expected}


class NotOwnerError(DomainError):
    """Only the room's owner may do this (403 not_owner)."""

    code = "not_owner"


class ForbiddenError(DomainError):
    """The user may not do this (403 forbidden)."""

    code = "forbidden"


class BannedError(DomainError):
    """The user is banned from sending until `until` (403 banned)."""

    code = "banned"

    def __init__(self, until: float) -> None:
        super().__init__("you are banned from sending after reports from other users")
        self.until = until

    def extra(self) -> dict[str, Any]:
        return {"until": self.until}


class RateLimitedError(DomainError):
    """Too many writes in a window (429 rate_limited); `retry_after_s` says when to retry.

    The general room's window of the assignment, and every per-user write budget.
    """

    code = "rate_limited"

    def __init__(self, retry_after_s: float, limit: int, *, what: str | None = None) -> None:
        what = what or f"at most {limit} messages and comments to general per window"
        super().__init__(f"{what}; try again in {_duration(retry_after_s)}")
        self.retry_after_s = retry_after_s
        self.limit = limit

    def extra(self) -> dict[str, Any]:
        return {"retry_after": self.retry_after_s}


class UnavailableError(DomainError):
    """The server is too busy for this now (503 unavailable); retry after `retry_after_s`."""

    code = "unavailable"

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s

    def extra(self) -> dict[str, Any]:
        return {"retry_after": self.retry_after_s}


class InsufficientStorageError(DomainError):
    """The server's disk is below its free-space floor: nothing is written (507)."""

    code = "insufficient_storage"

    def __init__(self, free_bytes: int, floor_bytes: int) -> None:
        super().__init__(
            "the server is low on disk space and accepts no writes for now; reading works"
        )
        self.free_bytes = free_bytes
        self.floor_bytes = floor_bytes
        self.retry_after_s = 60.0  # expired files are swept about this often

    def extra(self) -> dict[str, Any]:
        return {"retry_after": self.retry_after_s}


def _duration(seconds: float) -> str:
    """A wait as a person reads it: `45 s`, `3 min`, `2 h 5 min`."""
    whole = max(1, round(seconds))
    if whole < 60:
        return f"{whole} s"
    minutes = round(whole / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


class TooLargeError(DomainError):
    """An upload over the size limit (413 too_large)."""

    code = "too_large"

    def __init__(self, max_bytes: int, *, size: int | None = None) -> None:
        has = "" if size is None else f"the file has {size} bytes; "
        super().__init__(f"{has}a file has at most {max_bytes} bytes")
        self.max_bytes = max_bytes
        self.size = size

    def extra(self) -> dict[str, Any]:
        return {"max_bytes": self.max_bytes} | ({} if self.size is None else {"size": self.size})
