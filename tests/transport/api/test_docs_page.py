"""`GET /docs`: the document rendered as a well-formed, self-contained page that shows all of it."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.transport.api.contract import LATER_ENDPOINTS
from tests.transport.api.support import DOCUMENT, operations
from transport.api.docs_page import docs_page, render_docs

VOID_ELEMENTS = frozenset({"meta", "br", "hr", "img", "input", "link", "wbr"})


class TagChecker(HTMLParser):
    """Records the tag structure and every problem of nesting."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.tags: list[str] = []
        self.ids: list[str] = []
        self.hrefs: list[str] = []
        self.text: list[str] = []
        self.doctype = False

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl.lower() == "doctype html"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name == "id" and value is not None:
                self.ids.append(value)
            if name in {"href", "src"} and value is not None:
                self.hrefs.append(value)
        if tag not in VOID_ELEMENTS:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def checked(page: str) -> TagChecker:
    checker = TagChecker()
    checker.feed(page)
    checker.close()
    assert checker.doctype
    assert not checker.problems, checker.problems[:5]
    assert not checker.stack, checker.stack
    return checker


def test_the_docs_page_is_well_formed_html_with_every_path() -> None:
    page = docs_page().decode("utf-8")
    checker = checked(page)
    assert checker.tags[:1] == ["html"]
    text = "".join(checker.text)
    for method, path, operation in operations(DOCUMENT):
        assert f"{method.upper()} {path}" in text
        assert path in text
        assert operation["summary"] in text
        for status in operation["responses"]:
            assert status in text
        for parameter in operation.get("parameters", []):
            assert parameter["name"] in text
    for name in DOCUMENT["components"]["schemas"]:
        assert f"schema-{name}" in checker.ids
    assert len(checker.ids) == len(set(checker.ids))
    for href in checker.hrefs:  # every link is to a place on the page, or to /openapi.json
        assert href == "/openapi.json" or href[1:] in checker.ids, href


def test_the_docs_page_loads_nothing_from_elsewhere() -> None:
    page = docs_page().decode("utf-8").lower()
    for external in ("http://", "https://", "//cdn", "<script", "<link", "@import", "url(", "src="):
        assert external not in page


def test_the_docs_page_shows_the_examples() -> None:
    page = docs_page().decode("utf-8")
    assert "&quot;token&quot;" in page
    assert "dm:alice:bob" in page
    assert "offset_out_of_range" in page


def test_the_docs_page_shows_the_later_endpoints() -> None:
    page = docs_page().decode("utf-8")
    for method, path in LATER_ENDPOINTS:
        assert f"{method.upper()} {path}" in page
    for name in ("Comment", "Scheduled", "JoinRequest", "JoinLink", "FileInfo", "UserBannedEvent"):
        assert f'id="schema-{name}"' in page
    assert "application/octet-stream" in page
    assert "Проект Ω" in page


def test_the_docs_page_names_the_error_codes_of_each_response() -> None:
    page = docs_page().decode("utf-8")
    send = page[page.index('id="op-send"') : page.index('id="op-roomMessages"')]
    assert send.count('<a href="#schema-Error">Error</a> with <code>code</code> one of') >= 4
    for code in ("validation_failed", "bad_json", "unauthorized", "not_member", "not_found"):
        assert f"<code>{code}</code>" in send


def document_with(text: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": text, "version": text, "description": text},
        "paths": {
            "/x": {
                "get": {
                    "operationId": "x",
                    "summary": text,
                    "description": text,
                    "tags": ["t"],
                    "parameters": [{"name": text, "in": "query", "schema": {"type": "string"}}],
                    "responses": {"200": {"description": text}},
                }
            }
        },
        "components": {"schemas": {"S": {"type": "object", "description": text}}},
    }


@given(st.text(max_size=40).filter(lambda text: "`" not in text))
def test_text_from_the_document_cannot_add_markup(text: str) -> None:
    rendered = checked(render_docs(document_with(text)))
    plain = checked(render_docs(document_with("plain")))
    assert rendered.tags == plain.tags
    assert text in "".join(rendered.text)


def test_backticks_become_code() -> None:
    page = render_docs(document_with("use `after` <b>"))
    assert "use <code>after</code> &lt;b&gt;" in page
