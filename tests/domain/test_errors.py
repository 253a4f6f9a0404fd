"""The domain errors carry the API.md code the transport answers with."""

import pytest

from domain import (
    BadCredentialsError,
    ConflictError,
    DomainError,
    NotMemberError,
    ValidationError,
)


def test_validation_error_names_the_field() -> None:
    error = ValidationError("name too long", field="name")
    assert error.field == "name"
    assert error.code == "validation_failed"
    assert str(error) == "name too long"


@pytest.mark.parametrize(
    ("error_class", "code"),
    [
        (BadCredentialsError, "bad_credentials"),
        (NotMemberError, "not_member"),
        (ConflictError, "conflict"),
    ],
)
def test_each_error_maps_to_its_api_code(error_class: type[DomainError], code: str) -> None:
    error = error_class("no")
    assert isinstance(error, DomainError)
    assert error.code == code
