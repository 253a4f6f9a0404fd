"""Commands, events and the rules that decide events from state."""

from domain.errors import (
    BadCredentialsError,
    ConflictError,
    DomainError,
    NotMemberError,
    ValidationError,
)

__all__ = [
    "BadCredentialsError",
    "ConflictError",
    "DomainError",
    "NotMemberError",
    "ValidationError",
]
