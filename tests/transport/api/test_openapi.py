"""The OpenAPI document is valid OpenAPI 3.1, complete and truthful; /docs renders all of it."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator, Mapping
from html.parser import HTMLParser
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from schemathesis.specs.openapi.definitions import OPENAPI_31_VALIDATOR

from app import Settings, open_service
from eventstore import MemoryEventLog
from transport.api import ChatApi
from transport.api.docs_page import docs_page, render_docs
from transport.api.openapi import EVENT_SCHEMAS, OPERATIONS, openapi_document
from transport.http import HttpError
from transport.server import Router

DOCUMENT = openapi_document()
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
# The core endpoints of the brief: the document describes these and no others.
CORE_ENDPOINTS = {
    ("post", "/connect"),
    ("post", "/disconnect"),
    ("get", "/status"),
    ("post", "/send"),
    ("get", "/rooms/{room}/messages"),
    ("get", "/events"),
    ("get", "/health"),
    ("get", "/openapi.json"),
    ("get", "/docs"),
}
PUBLIC_ENDPOINTS = {
    ("post", "/connect"),
    ("get", "/health"),
    ("get", "/openapi.json"),
    ("get", "/docs"),
}


def operations(document: Mapping[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert method in METHODS, f"{path}: {method} is not an operation"
            yield method, path, operation


def walk(node: object, where: str = "#") -> Iterator[tuple[str, object]]:
    yield where, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, f"{where}/{index}")


def resolve(document: Mapping[str, Any], pointer: str) -> object:
    assert pointer.startswith("#/"), pointer
    node: object = document
    for escaped in pointer[2:].split("/"):
        part = escaped.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict), f"{pointer} does not resolve"
        assert part in node, f"{pointer} does not resolve"
        node = node[part]
    return node


def validator(schema: Mapping[str, Any]) -> jsonschema_rs.Validator:
    """A validator for `schema` whose `#/components/...` references resolve."""
    root = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": DOCUMENT["components"],
        "allOf": [schema],
    }
    return jsonschema_rs.Draft202012Validator(root)


# ------------------------------------------------------------------ structure


def test_the_document_is_valid_openapi_3_1() -> None:
    assert DOCUMENT["openapi"] == "3.1.0"
    OPENAPI_31_VALIDATOR.validate(DOCUMENT)
    assert DOCUMENT["servers"] == [{"url": "/"}]
    json.dumps(DOCUMENT, allow_nan=False)  # plain JSON, nothing Python-only


def test_every_reference_resolves() -> None:
    references = [
        (where, node["$ref"])
        for where, node in walk(DOCUMENT)
        if isinstance(node, dict) and isinstance(node.get("$ref"), str)
    ]
    assert len(references) > 30
    for _, target in references:
        resolve(DOCUMENT, target)
    mapping = DOCUMENT["components"]["schemas"]["Event"]["discriminator"]["mapping"]
    for target in mapping.values():
        resolve(DOCUMENT, target)


def test_every_component_schema_is_valid_json_schema_2020_12() -> None:
    for name, schema in DOCUMENT["components"]["schemas"].items():
        assert jsonschema_rs.meta.is_valid(schema), name


def test_the_document_describes_every_core_endpoint() -> None:
    # Later issues add endpoints; the router test below checks that each exists.
    described = {(method, path) for method, path, _ in operations(DOCUMENT)}
    assert described >= CORE_ENDPOINTS
    assert {(o.method, o.path) for o in OPERATIONS} >= CORE_ENDPOINTS


def test_operation_ids_are_unique() -> None:
    ids = [operation["operationId"] for _, _, operation in operations(DOCUMENT)]
    assert len(ids) == len(set(ids))


def test_path_parameters_match_the_path_templates() -> None:
    for _, path, operation in operations(DOCUMENT):
        declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
        assert declared == set(re.findall(r"\{([^}]+)\}", path)), path


def test_every_response_has_a_schema_except_204() -> None:
    for method, path, operation in operations(DOCUMENT):
        responses = operation["responses"]
        assert "default" in responses
        assert any(status.startswith("2") for status in responses), (method, path)
        for status, response in responses.items():
            if status in ("204", "304"):  # statuses without a body
                assert "content" not in response
                continue
            content = response["content"]
            assert content, (method, path, status)
            for media in content.values():
                assert "schema" in media, (method, path, status)


def test_error_responses_use_the_error_schema_and_name_their_codes() -> None:
    for method, path, operation in operations(DOCUMENT):
        for status, response in operation["responses"].items():
            if not (status == "default" or status[0] in "45"):
                continue
            schema = response["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Error"} or (
                schema["allOf"][0] == {"$ref": "#/components/schemas/Error"}
            ), (method, path, status)
            if status != "default":
                codes = schema["allOf"][1]["properties"]["error"]["properties"]["code"]["enum"]
                assert codes, (method, path, status)
                for code in codes:
                    assert f"`{code}`" in response["description"]


def test_authentication_is_required_everywhere_but_the_public_endpoints() -> None:
    assert DOCUMENT["security"] == [{"bearerAuth": []}]
    scheme = DOCUMENT["components"]["securitySchemes"]["bearerAuth"]
    assert scheme == {**scheme, "type": "http", "scheme": "bearer"}
    for method, path, operation in operations(DOCUMENT):
        public = (method, path) in PUBLIC_ENDPOINTS
        assert (operation.get("security") == []) is public, (method, path)
        responses = operation["responses"]
        if public:
            assert "unauthorized" not in json.dumps(responses.get("401", {}))
        else:
            unauthorized = responses["401"]
            assert "unauthorized" in unauthorized["description"]
            assert unauthorized["headers"]["WWW-Authenticate"]["required"] is True


def test_json_bodies_declare_the_body_errors() -> None:
    for method, path, operation in operations(DOCUMENT):
        if "application/json" not in operation.get("requestBody", {}).get("content", {}):
            continue  # no body, or a raw one (uploads)
        responses = operation["responses"]
        assert "`bad_json`" in responses["400"]["description"], (method, path)
        assert "`too_large`" in responses["413"]["description"], (method, path)
        assert "`unsupported_media_type`" in responses["415"]["description"], (method, path)


def test_the_event_schema_is_one_of_every_visible_event_type() -> None:
    schemas = DOCUMENT["components"]["schemas"]
    event = validator({"$ref": "#/components/schemas/Event"})
    message = {"id": 3, "room": "general", "author": "a", "text": "t", "ts": 1.0, "comments": 0}
    samples: dict[str, dict[str, Any]] = {
        "message.sent": {"message": message},
        "room.created": {
            "room": {"id": "g4", "name": "x", "kind": "group", "owner": "a", "members": ["a"]}
        },
        "room.member_joined": {"room": "general", "user": "bob"},
        "room.member_left": {"room": "g4", "user": "bob"},
        "cursor.moved": {"user": "bob", "cursor": 7, "session": 5},
    }
    assert set(samples) <= set(EVENT_SCHEMAS)
    for event_type, fields in samples.items():
        assert schemas[EVENT_SCHEMAS[event_type]]["properties"]["type"] == {"const": event_type}
        good = {"offset": 9, "ts": 2.5, "type": event_type, **fields}
        assert event.is_valid(good), event_type
        assert not event.is_valid({**good, "type": "user.registered"})
        for missing in ("offset", "ts", *fields):
            assert not event.is_valid({k: v for k, v in good.items() if k != missing})
    assert not event.is_valid({"offset": 1, "ts": 1.0, "type": "session.opened"})


def test_schemas_accept_the_shapes_of_the_api_and_refuse_broken_ones() -> None:
    message = validator({"$ref": "#/components/schemas/Message"})
    good = {"id": 17, "room": "general", "author": "alice", "text": "hi", "ts": 1.5, "comments": 0}
    assert message.is_valid(good)
    assert message.is_valid({**good, "later": {"name": "a.txt"}})  # later fields are allowed
    assert not message.is_valid({**good, "id": "17"})
    assert not message.is_valid({k: v for k, v in good.items() if k != "author"})
    room = validator({"$ref": "#/components/schemas/Room"})
    general = {
        "id": "general",
        "name": "general",
        "kind": "general",
        "owner": None,
        "members": ["alice"],
        "unread": 0,
    }
    assert room.is_valid(general)
    assert not room.is_valid({**general, "kind": "channel"})
    assert not room.is_valid({k: v for k, v in general.items() if k != "unread"})
    send = validator({"$ref": "#/components/schemas/SendRequest"})
    assert send.is_valid({"text": "hi"})
    assert send.is_valid({"text": "hi", "room": "general"})
    assert send.is_valid({"text": "hi", "to": "bob"})
    assert not send.is_valid({"text": "hi", "room": "general", "to": "bob"})
    assert not send.is_valid({"text": ""})
    assert not send.is_valid({"text": "x" * 4001})
    page = validator({"$ref": "#/components/schemas/MessagePage"})
    assert page.is_valid({"messages": [good], "next_before": 17})
    assert page.is_valid({"messages": [], "next_before": None})
    error = validator({"$ref": "#/components/schemas/Error"})
    assert error.is_valid({"error": {"code": "not_found", "message": "no such room"}})
    assert not error.is_valid({"error": {"message": "no code"}})
    assert not error.is_valid({"detail": "not our format"})


def test_every_example_matches_its_schema() -> None:
    checked = 0
    for method, path, operation in operations(DOCUMENT):
        media_objects = [
            (f"{status} response", media)
            for status, response in operation["responses"].items()
            for media in response.get("content", {}).values()
        ]
        if "requestBody" in operation:
            media_objects += [
                ("request body", media) for media in operation["requestBody"]["content"].values()
            ]
        for what, media in media_objects:
            if "example" in media:
                errors = list(validator(media["schema"]).iter_errors(media["example"]))
                assert not errors, (method, path, what, errors)
                checked += 1
        for parameter in operation.get("parameters", []):
            if "example" in parameter:
                assert validator(parameter["schema"]).is_valid(parameter["example"])
                checked += 1
    for name, schema in DOCUMENT["components"]["schemas"].items():
        for example in schema.get("examples", []):
            assert validator(schema).is_valid(example), name
            checked += 1
    assert checked > 20


def test_limits_follow_the_settings() -> None:
    settings = Settings(
        max_text_length=10,
        history_size=5,
        poll_timeout_max_s=2.0,
        poll_timeout_default_s=1.0,
        history_limit_max=7,
        events_limit_max=9,
    )
    document = openapi_document(settings)
    schemas = document["components"]["schemas"]
    assert schemas["SendRequest"]["properties"]["text"]["maxLength"] == 10
    assert schemas["Connected"]["properties"]["general"]["properties"]["messages"]["maxItems"] == 5
    events = {p["name"]: p["schema"] for p in document["paths"]["/events"]["get"]["parameters"]}
    assert events["timeout"]["maximum"] == 2.0
    assert events["timeout"]["default"] == 1.0
    assert events["limit"]["maximum"] == 9
    history = document["paths"]["/rooms/{room}/messages"]["get"]["parameters"]
    assert {p["name"]: p["schema"] for p in history}["limit"]["maximum"] == 7
    OPENAPI_31_VALIDATOR.validate(document)


def test_each_call_returns_a_fresh_document() -> None:
    first = openapi_document()
    first["paths"].clear()
    assert openapi_document() == DOCUMENT


# ----------------------------------------------------------------- /docs page

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


# ------------------------------------------------------- the document vs the router


def concrete_path(template: str) -> str:
    """A path of the template with a plausible value for each parameter."""
    samples = {"room": "general", "id": "1", "name": "alice", "token": "x"}
    return re.sub(r"\{([^}]+)\}", lambda m: samples.get(m[1], "x"), template)


def routed_methods(router: Router, path: str) -> set[str]:
    """The methods the router serves on a concrete path, from its 405 `Allow` header."""
    with pytest.raises(HttpError) as refused:
        router.resolve("TRACE", path)  # a method no endpoint of ours takes
    assert refused.value.status == 405, (path, refused.value)
    allow = dict(refused.value.headers)["Allow"]
    return {method.strip().lower() for method in allow.split(",")} - {"head"}


def test_the_router_serves_exactly_the_documented_operations() -> None:
    async def scenario() -> Router:
        service = await open_service(
            Settings(scrypt_n=2**4, min_password_length=1, report_min_account_age_s=0.0),
            event_log=MemoryEventLog(),
        )
        try:
            return ChatApi(service, service.settings).router()
        finally:
            await service.close()

    router = asyncio.run(scenario())
    documented: dict[str, set[str]] = {}
    for method, path, _ in operations(DOCUMENT):
        documented.setdefault(path, set()).add(method)
    for path, methods in documented.items():
        concrete = concrete_path(path)
        assert routed_methods(router, concrete) == methods, path
        for method in methods:
            assert router.resolve(method.upper(), concrete).route.pattern == path


def test_the_docs_page_names_the_error_codes_of_each_response() -> None:
    page = docs_page().decode("utf-8")
    send = page[page.index('id="op-send"') : page.index('id="op-roomMessages"')]
    assert send.count('<a href="#schema-Error">Error</a> with <code>code</code> one of') >= 4
    for code in ("validation_failed", "bad_json", "unauthorized", "not_member", "not_found"):
        assert f"<code>{code}</code>" in send
