"""`docs/api.md` documents every operation, event type and error code of the API."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.transport.api.support import API_MD, documented_operations
from transport.api.errors import ERROR_STATUS
from transport.api.polling import EVENT_SCHEMAS
from transport.api.routes import ROUTES, openapi_document


def test_docs_api_md_covers_every_operation_event_and_error_code() -> None:
    text = API_MD.read_text(encoding="utf-8")
    document = openapi_document()
    headings = [line for line in text.splitlines() if line.startswith("### ")]
    for method, path in documented_operations(document):
        named = re.compile(re.escape(f"`{method.upper()} {path}") + "[`?]")
        assert any(named.search(heading) for heading in headings), (method, path)
    for event_type in EVENT_SCHEMAS:
        assert f"| `{event_type}` |" in text, event_type
    codes = {
        code
        for item in document["paths"].values()
        for operation in item.values()
        for status, response in operation["responses"].items()
        if status[0] in "45"
        for code in response["content"]["application/json"]["schema"]["allOf"][1]["properties"][
            "error"
        ]["properties"]["code"]["enum"]
    }
    assert codes >= {"not_owner", "banned", "rate_limited", "conflict", "too_large"}
    for code in codes:
        assert f"`{code}`" in text, code


# ------------------------------------ what is routed and what can be answered, from the code

TRANSPORT = Path(__file__).resolve().parents[3] / "transport"
ERROR_CALLS = frozenset({"NoRouteError", "HttpError", "ProtocolError", "error_response"})


def http_layer_errors() -> set[tuple[int, str]]:
    """Every (status, code) the transport answers with by itself, read from its source.

    A call `HttpError(413, "too_large", ...)` (or `ProtocolError`, `error_response`) with a
    literal status and code names one; the two calls that pass on a code they were given
    (a domain error's, an HttpError's) name none.
    """
    found: set[tuple[int, str]] = set()
    for path in sorted(TRANSPORT.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or len(node.args) < 2:
                continue
            called = node.func
            name = called.id if isinstance(called, ast.Name) else getattr(called, "attr", None)
            status, code = node.args[0], node.args[1]
            if (
                name in ERROR_CALLS
                and isinstance(status, ast.Constant)
                and isinstance(status.value, int)
                and isinstance(code, ast.Constant)
                and isinstance(code.value, str)
            ):
                found.add((status.value, code.value))
    return found


def answerable_errors() -> set[tuple[int, str]]:
    """Every (status, code) the API can answer: the domain's table and the HTTP layer's."""
    domain = {(status, str(getattr(cls, "code", ""))) for cls, status in ERROR_STATUS.items()}
    return domain | http_layer_errors()


def test_the_error_reader_finds_the_errors_of_every_layer() -> None:
    found = http_layer_errors()
    assert {(414, "uri_too_long"), (405, "method_not_allowed"), (503, "unavailable")} <= found
    assert {(415, "unsupported_media_type"), (501, "not_implemented")} <= found
    assert (400, "validation_failed") in answerable_errors()


def test_docs_api_md_has_every_routed_endpoint_and_every_error_it_can_answer() -> None:
    text = API_MD.read_text(encoding="utf-8")
    headings = [line for line in text.splitlines() if line.startswith("### ")]
    for route in ROUTES:
        named = re.compile(re.escape(f"`{route.method} {route.path}") + "[`?]")
        assert any(named.search(heading) for heading in headings), (route.method, route.path)
    missing = [
        (status, code)
        for status, code in sorted(answerable_errors())
        if f"| {status} | `{code}` |" not in text
    ]
    assert not missing, "rows missing from the table of errors"
