"""The base API client: the server's error answers, whatever their body."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from client.api import ApiError, ApiErrorBody, ServerTroubleError, raise_for_status
from tests.client.strategies import json_values


@given(json_values, st.integers(400, 599))
def test_error_bodies_never_fail(value: object, status: int) -> None:
    body = ApiErrorBody.from_json(value, status)
    assert body.code
    assert body.message


def test_error_body_keeps_code_message_and_extra() -> None:
    body = ApiErrorBody.from_json(
        {"error": {"code": "rate_limited", "message": "slow down", "retry_after": 3}}, 429
    )
    assert (body.code, body.message, dict(body.extra)) == (
        "rate_limited",
        "slow down",
        {"retry_after": 3},
    )
    assert ApiErrorBody.from_json("<html>", 502).message == "the server answered 502"


def test_every_error_status_is_an_exception_whatever_its_body() -> None:
    raise_for_status(399, b"<html>")
    with pytest.raises(ApiError) as refused:
        raise_for_status(404, b'{"error": {"code": "not_found", "message": "no room g9"}}')
    assert (refused.value.status, refused.value.code, refused.value.message) == (
        404, "not_found", "no room g9",
    )  # fmt: skip
    # A proxy's page in front of the server: still a refusal, or trouble worth retrying.
    with pytest.raises(ApiError, match="the server answered 403"):
        raise_for_status(403, b"<html>forbidden</html>")
    with pytest.raises(ServerTroubleError, match="the server answered 502"):
        raise_for_status(502, b"<html>bad gateway</html>")
    with pytest.raises(ServerTroubleError):
        raise_for_status(503, b"\xff\xfe")
