"""`POST /users/{name}/report`: what its body may hold, as the rule reads it."""

from __future__ import annotations

import pytest

from app import MAX_REASON_CHARS
from tests.transport.api.shapes import schema_validator

REPORT = schema_validator("ReportRequest")


@pytest.mark.parametrize(
    "body",
    [{}, {"reason": None}, {"reason": ""}, {"reason": "r" * MAX_REASON_CHARS}, {"other": 1}],
)
def test_a_report_body_the_rule_accepts_is_documented(body: dict[str, object]) -> None:
    assert REPORT.is_valid(body)


@pytest.mark.parametrize("reason", ["r" * (MAX_REASON_CHARS + 1), 5, ["spam"], True])
def test_a_reason_the_rule_refuses_is_not(reason: object) -> None:
    assert not REPORT.is_valid({"reason": reason})
