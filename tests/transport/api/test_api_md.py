"""`docs/api.md` documents every operation, event type and error code of the API."""

from __future__ import annotations

import re

from tests.transport.api.support import API_MD, documented_operations
from transport.api.polling import EVENT_SCHEMAS
from transport.api.routes import openapi_document


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
