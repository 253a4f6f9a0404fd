"""Domain errors: each subclass names the API.md error code it maps to."""


class DomainError(Exception):
    """Base of every rule violation a command can hit; `code` is the API.md code."""

    code = "domain_error"


class ValidationError(DomainError):
    """A command field breaks a rule (400 validation_failed); `field` names it."""

    code = "validation_failed"

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class BadCredentialsError(DomainError):
    """Wrong password or unknown token (401 bad_credentials)."""

    code = "bad_credentials"


class NotMemberError(DomainError):
    """The user is not a member of the room (403 not_member)."""

    code = "not_member"


class ConflictError(DomainError):
    """The command conflicts with the current state (409 conflict)."""

    code = "conflict"
