"""The OpenAPI document is valid OpenAPI 3.1, complete and truthful.

Structure and schemas are checked here, on the document as a whole; each
feature's own shapes are checked in its `test_<feature>.py`, and the live
scenario of `contract.py` checks every later endpoint's answers against the
document the server serves.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import jsonschema_rs
from hypothesis import given
from hypothesis import strategies as st
from schemathesis.specs.openapi.definitions import OPENAPI_31_VALIDATOR

from app import MAX_INVITED_ON_CREATE, MAX_REASON_CHARS, Settings
from domain.files import MAX_FILE_NAME_BYTES
from domain.names import MAX_ROOM_NAME_CHARS
from tests.transport.api.contract import LATER_ENDPOINTS, Contract
from tests.transport.api.support import (
    DOCUMENT,
    PUBLIC_ENDPOINTS,
    documented_operations,
    operations,
    resolve,
    validator,
    walk,
)
from transport.api import messages, moderation, rooms
from transport.api.routes import openapi_document

# ------------------------------------------------------------------ structure


def test_the_document_is_valid_openapi_3_1() -> None:
    assert DOCUMENT["openapi"] == "3.1.0"
    OPENAPI_31_VALIDATOR.validate(DOCUMENT)
    assert DOCUMENT["servers"] == [{"url": "/"}]
    json.dumps(DOCUMENT, allow_nan=False)  # plain JSON, nothing Python-only


def openapi_problems(document: dict[str, Any]) -> list[str]:
    """Why `document` is not valid OpenAPI 3.1 (nothing when it is).

    The meta-schema does not look into the schemas the document holds, so each
    of them (components, parameters, bodies, responses, headers) is checked as
    JSON Schema 2020-12 too.
    """
    problems = [
        f"{error.instance_path}: {error.message}"
        for error in OPENAPI_31_VALIDATOR.iter_errors(document)
    ]
    schemas = [
        (where, node)
        for where, node in walk(document)
        if where.endswith("/schema")
        or (where.startswith("#/components/schemas/") and where.count("/") == 3)
    ]
    problems += [
        where
        for where, schema in schemas
        if not (isinstance(schema, dict | bool) and jsonschema_rs.meta.is_valid(schema))
    ]
    return problems


def test_the_document_with_the_later_endpoints_is_valid_openapi_3_1() -> None:
    document = openapi_document(Settings(max_file_bytes=10))
    assert documented_operations(document) >= LATER_ENDPOINTS
    assert openapi_problems(document) == []
    # Either kind of problem would be seen.
    broken = copy.deepcopy(document)
    broken["paths"]["/files"]["post"]["parameters"][0]["in"] = "body"
    assert openapi_problems(broken)
    broken = copy.deepcopy(document)
    broken["paths"]["/files"]["post"]["parameters"][0]["schema"] = {"minLength": "one"}
    assert openapi_problems(broken) == ["#/paths//files/post/parameters/0/schema"]


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


# --------------------------------------------------------------------- limits


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


@given(
    text=st.integers(min_value=1, max_value=10**6),
    file_bytes=st.integers(min_value=1, max_value=2**40),
    ahead_days=st.integers(min_value=1, max_value=3650),
    threshold=st.integers(min_value=1, max_value=100),
)
def test_limits_of_the_later_endpoints_follow_the_settings(
    text: int, file_bytes: int, ahead_days: int, threshold: int
) -> None:
    settings = Settings(
        max_text_length=text,
        max_file_bytes=file_bytes,
        max_schedule_ahead_s=ahead_days * 86400.0,
        report_threshold=threshold,
    )
    document = openapi_document(settings)
    schemas = document["components"]["schemas"]
    assert schemas["CommentRequest"]["properties"]["text"]["maxLength"] == text
    assert schemas["FileInfo"]["properties"]["size"]["maximum"] == file_bytes
    upload = document["paths"]["/files"]["post"]
    body = upload["requestBody"]["content"]["application/octet-stream"]["schema"]
    assert body["description"] == f"At most {file_bytes} bytes."
    assert f"over {file_bytes} bytes" in upload["responses"]["413"]["description"]
    assert (
        f"at most {ahead_days:g} days ahead"
        in schemas["SendRequest"]["properties"]["send_at"]["description"]
    )
    assert (
        f"{threshold} distinct reporters"
        in (document["paths"]["/users/{name}/report"]["post"]["description"])
    )


def test_the_documented_limits_are_the_rules_limits() -> None:
    assert rooms.MAX_INVITED_ON_CREATE == MAX_INVITED_ON_CREATE
    assert moderation.MAX_REPORT_REASON_CHARS == MAX_REASON_CHARS
    assert messages.MAX_FILE_NAME_BYTES == MAX_FILE_NAME_BYTES
    assert rooms.MAX_ROOM_NAME_CHARS == MAX_ROOM_NAME_CHARS


def test_each_call_returns_a_fresh_document() -> None:
    first = openapi_document()
    first["paths"].clear()
    assert openapi_document() == DOCUMENT


# ------------------------------------------------- the document vs the live server


def test_every_answer_of_the_scenario_is_documented(contract: Contract) -> None:
    # `Contract.check` asserted each answer as it came; here: the scenario reached them all.
    assert {(m, p) for m, p, _ in contract.seen} >= LATER_ENDPOINTS


def test_every_status_an_operation_documents_was_answered(contract: Contract) -> None:
    # Shared statuses (401, the JSON body errors, 400 bad_request) are the builder's and
    # tested with the core; each operation's own statuses must all be reachable.
    shared = {"default", "401", "413", "415", "429", "507"}  # and every write's budget and disk
    missing = []
    for method, path in sorted(LATER_ENDPOINTS):
        operation = contract.document["paths"][path][method]
        for status, response in operation["responses"].items():
            own = status not in shared or (path == "/files" and status == "413")
            bad_request_only = status == "400" and response["description"].startswith(
                ("`bad_json`", "`bad_request`")
            )
            if own and not bad_request_only and (method, path, status) not in contract.seen:
                missing.append((method, path, status))
    assert not missing
