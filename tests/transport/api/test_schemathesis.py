"""Schemathesis against the real server: its own /openapi.json is the contract.

The server runs in this process, in a thread with its own event loop (the
generated requests are synchronous), on 127.0.0.1:0 with a temporary data
directory, no fsync and a cheap scrypt. Every operation gets positive and
negative cases; the checks are: no 5xx, and every answer matches the schema
documented for its status. Long polls are capped at a fraction of a second by
the server's settings, which the document advertises, so no case waits long.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.schemas import OpenApiSchema

from app import Settings
from eventstore import FsyncPolicy
from tests.transport.api.contract import Contract
from tests.transport.api.support import CORE_ENDPOINTS, LiveServer, concrete_path
from transport.api.routes import openapi_document

MAX_EXAMPLES = 50
# Operations whose positive cases must reach a success. The other later endpoints
# succeed only with real message ids, link tokens or rooms the caller is in, which
# random values never name: test_openapi_more.py checks their successes.
FUZZED_TO_SUCCESS = CORE_ENDPOINTS | {
    ("get", "/scheduled"),
    ("post", "/rooms"),
    ("get", "/rooms"),
    ("post", "/users/{name}/report"),
    ("post", "/files"),
}
CHECKS = [not_a_server_error, response_schema_conformance]
# The fuzzing's checks, and: the status is documented, the media type is the
# documented one, and the documented required headers are present.
STRICT_CHECKS = [
    *CHECKS,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
]


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir: Path = tmp_path_factory.mktemp("schemathesis") / "data"
    server = LiveServer(
        Settings(
            port=0,
            data_dir=data_dir,
            fsync=FsyncPolicy.NONE,
            scrypt_n=2**4,
            poll_timeout_max_s=0.2,
            poll_timeout_default_s=0.1,
            shutdown_grace_s=1.0,
        )
    )
    server.start()
    try:
        # Somebody to talk to, and a direct room, so that `to` and room ids can hit.
        alice = server.connect("alice")
        server.connect("bob")
        server.request("POST", "/send", {"text": "hi bob", "to": "bob"}, token=alice)
        server.request("POST", "/send", {"text": "hello all"}, token=alice)
        yield server
    finally:
        server.stop()


@pytest.fixture
def token(live_server: LiveServer) -> str:
    # A user of its own per test: what one operation's fuzzing does (leave a room,
    # hit the rate limit, get reported) must not change what the next one sees.
    fuzzer = f"fuzz{len(live_server.users)}"
    live_server.users.append(fuzzer)
    return live_server.connect(fuzzer)


@pytest.fixture(scope="module")
def api_schema(live_server: LiveServer) -> OpenApiSchema:
    config = schemathesis.Config.from_dict(
        {"generation": {"max-examples": MAX_EXAMPLES, "deterministic": True}}
    )
    return schemathesis.openapi.from_url(
        f"http://127.0.0.1:{live_server.port}/openapi.json", config=config
    )


def test_the_served_document_is_the_settings_aware_document(live_server: LiveServer) -> None:
    status, body = live_server.request("GET", "/openapi.json")
    assert status == 200
    document = json.loads(body)
    assert document == openapi_document(live_server.settings)
    served = {(method, path) for path, item in document["paths"].items() for method in item}
    assert served >= CORE_ENDPOINTS


def test_every_documented_path_is_routed(live_server: LiveServer) -> None:
    # A documented path never meets the router's 404 `no such path` or a 405.
    token = live_server.connect("dave")  # its own session: /disconnect revokes it
    document = openapi_document(live_server.settings)
    for method, path in sorted((m, p) for p, item in document["paths"].items() for m in item):
        concrete = concrete_path(path)
        status, body = live_server.request(method.upper(), concrete, token=token)
        assert status != 405, (method, path)
        assert status != 404 or b"no such path" not in body, (method, path)


def fuzzed() -> list[tuple[str, str, GenerationMode]]:
    """Positive cases for every operation; negative ones where there is input to break."""
    cases = []
    for path, item in openapi_document()["paths"].items():
        if path == "/openapi.json":
            continue  # schemathesis does not call the document it was loaded from
        for method, operation in item.items():
            cases.append((method, path, GenerationMode.POSITIVE))
            if operation.get("parameters") or "requestBody" in operation:
                cases.append((method, path, GenerationMode.NEGATIVE))
    return cases


FUZZED = fuzzed()


@pytest.mark.parametrize(
    ("method", "path", "mode"), FUZZED, ids=[f"{m} {p} {g.value}" for m, p, g in FUZZED]
)
def test_the_server_keeps_its_documented_contract(
    api_schema: OpenApiSchema,
    live_server: LiveServer,
    token: str,
    method: str,
    path: str,
    mode: GenerationMode,
) -> None:
    operation = api_schema[path][method.upper()]
    base_url = f"http://127.0.0.1:{live_server.port}"

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def exchange(case: Case[Any]) -> None:
        session = token
        if path == "/disconnect":
            session = live_server.connect("carol")  # disconnecting revokes the token
        response = case.call_and_validate(
            base_url=base_url,
            headers={"Authorization": f"Bearer {session}"},
            checks=CHECKS,
            timeout=10,
        )
        statuses.append(response.status_code)

    statuses: list[int] = []
    exchange()
    # The fuzzing reached the handlers, not only the auth and validation walls.
    if mode is GenerationMode.POSITIVE and (method, path) in FUZZED_TO_SUCCESS:
        assert any(200 <= status < 300 for status in statuses), sorted(Counter(statuses).items())


def test_schemathesis_accepts_the_successes_fuzzing_cannot_reach(contract: Contract) -> None:
    # The fuzzer's random ids, tokens and rooms never name real state, so the
    # successes of these operations are checked here with real values, by
    # schemathesis's own checks (no 5xx, the body matches the documented schema).
    schema = schemathesis.openapi.from_url(f"http://127.0.0.1:{contract.server.port}/openapi.json")
    base_url = f"http://127.0.0.1:{contract.server.port}"
    olga, pavel, rita = (contract.connect(name) for name in ("olga", "pavel", "rita"))

    def call(
        token: str, method: str, path: str, expected: int, body: Any = None, **parts: Any
    ) -> Any:
        operation = schema[path][method]
        if body is not None and "media_type" not in parts:
            parts["media_type"] = "application/json"
        case = operation.Case(body=body, **parts) if body is not None else operation.Case(**parts)
        response = case.call_and_validate(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, checks=STRICT_CHECKS
        )
        assert response.status_code == expected, (method, path, response.text)
        if response.headers.get("content-type", [""])[0].startswith("application/json"):
            return response.json()
        return response.content

    room = call(olga, "POST", "/rooms", 201, {"name": "r"})["room"]["id"]
    in_room = {"room": room}
    link = call(olga, "POST", "/rooms/{room}/links", 201, path_parameters=in_room)
    token = {"token": link["token"]}
    call(pavel, "POST", "/join/{token}", 202, path_parameters=token)
    call(olga, "GET", "/rooms/{room}/requests", 200, path_parameters=in_room)
    decide = {"room": room, "name": "pavel"}
    call(
        olga,
        "POST",
        "/rooms/{room}/requests/{name}",
        200,
        {"approve": True},
        path_parameters=decide,
    )
    call(pavel, "POST", "/join/{token}", 200, path_parameters=token)
    call(olga, "POST", "/rooms/{room}/members", 201, {"name": "rita"}, path_parameters=in_room)
    call(olga, "POST", "/rooms/{room}/members", 200, {"name": "rita"}, path_parameters=in_room)
    call(olga, "DELETE", "/rooms/{room}/links/{token}", 204, path_parameters={**in_room, **token})
    sent = call(pavel, "POST", "/send", 201, {"text": "t", "room": room})["message"]
    message = {"id": sent["id"]}
    call(rita, "POST", "/messages/{id}/comments", 201, {"text": "c"}, path_parameters=message)
    call(olga, "GET", "/messages/{id}/comments", 200, path_parameters=message)
    uploaded = call(
        pavel,
        "POST",
        "/files",
        201,
        b"bytes",
        query={"room": room, "name": "a.bin"},
        media_type="application/octet-stream",
    )["message"]
    call(rita, "GET", "/messages/{id}/file", 200, path_parameters={"id": uploaded["id"]})
    later = {"text": "l", "to": "rita", "send_at": time.time() + 600}
    scheduled = call(olga, "POST", "/send", 202, later)["scheduled"]
    call(olga, "GET", "/scheduled", 200)
    call(olga, "DELETE", "/scheduled/{id}", 204, path_parameters={"id": scheduled["id"]})
    call(rita, "POST", "/rooms/{room}/leave", 204, path_parameters=in_room)
    call(
        rita,
        "POST",
        "/users/{name}/report",
        202,
        {"reason": "r"},
        path_parameters={"name": "pavel"},
    )
