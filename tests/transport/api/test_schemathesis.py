"""Schemathesis against the real server: its own /openapi.json is the contract.

The server runs in this process, in a thread with its own event loop (the
generated requests are synchronous), on 127.0.0.1:0 with a temporary data
directory, no fsync and a cheap scrypt. Every operation gets positive and
negative cases; the checks are: no 5xx, and every answer matches the schema
documented for its status. Long polls are capped at a fraction of a second by
the server's settings, which the document advertises, so no case waits long.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import schemathesis
from attrs import define, field, frozen
from hypothesis import HealthCheck, given, settings
from schemathesis import Case, GenerationMode
from schemathesis.checks import CHECKS as SCHEMATHESIS_CHECKS
from schemathesis.checks import not_a_server_error
from schemathesis.engine import events as engine_events
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.schemas import OpenApiSchema

from tests.transport.api.contract import Contract
from tests.transport.api.stranger import PASSWORD, connect, register
from tests.transport.api.support import (
    API_MD,
    CORE_ENDPOINTS,
    LiveServer,
    concrete_path,
    quick_settings,
)
from transport.api.routes import openapi_document

MAX_EXAMPLES = 50
# Operations whose positive cases must reach a success. The other later endpoints
# succeed only with real message ids, link tokens or rooms the caller is in, which
# random values never name: the contract scenario (contract.py) checks their successes.
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
    server = LiveServer(quick_settings(data_dir))
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


# ------------------------------------ every check there is, as `schemathesis run --checks all`

# What `schemathesis run --checks all -n 30` does, in this process: every phase (examples,
# coverage, fuzzing, stateful), every check schemathesis has, logged in as a stranger would
# be (stranger.py: `/disconnect` gets a session of its own). Fewer examples than by hand, and
# one seed, so that the suite stays quick and repeatable. max_response_time is not among the
# checks (`--checks all` leaves it out too): it would be a timed assertion.
ENGINE_EXAMPLES = 10
ENGINE_SEED = 20251202
# object_level_authorization needs two identities, given to schemathesis as WFC peers; with
# WFC auth configured, schemathesis drops custom auth providers, and so the session of its
# own that /disconnect needs. The check runs alone, as two peers, on every operation but
# /disconnect, which it does not look at anyway (it replays reads).
PEER_CHECKS = frozenset({"object_level_authorization"})
PEERS = ("alice", "bob")


@frozen(kw_only=True)
class Finding:
    """One failed check, with the exchange it failed on."""

    check: str
    method: str
    path: str
    request_headers: Mapping[str, str]
    status: int | None
    answer: Any  # the JSON body, or None

    @property
    def error(self) -> Mapping[str, Any]:
        error = self.answer.get("error") if isinstance(self.answer, dict) else None
        return error if isinstance(error, dict) else {}


@define
class EngineRun:
    """What one run of the engine found, and which checks it ran."""

    findings: list[Finding] = field(factory=list)
    checks_run: set[str] = field(factory=set)
    problems: list[str] = field(factory=list)  # errors of the run itself


def finding(check: str, recorder: Any, case_id: str) -> Finding:
    case = recorder.cases[case_id].value
    exchange = recorder.interactions.get(case_id)
    request = exchange.request if exchange is not None else None
    response = exchange.response if exchange is not None else None
    headers = {
        name.lower(): values[0] if isinstance(values, list) else values
        for name, values in (request.headers.items() if request is not None else ())
    }
    answer = None
    if response is not None and response.content:
        with contextlib.suppress(ValueError):
            answer = json.loads(response.content)
    return Finding(
        check=check,
        method=case.method,
        path=urlsplit(request.uri).path if request is not None else case.path,
        request_headers=headers,
        status=response.status_code if response is not None else None,
        answer=answer,
    )


def run_engine(schema: Any) -> EngineRun:
    run = EngineRun()
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, engine_events.ScenarioFinished):
            for case_id, checks in event.recorder.checks.items():
                for check in checks:
                    run.checks_run.add(check.name)
                    if check.failure_info is not None:
                        run.findings.append(finding(check.name, event.recorder, case_id))
        elif isinstance(event, engine_events.NonFatalError | engine_events.FatalError):
            run.problems.append(repr(event))
        elif isinstance(event, engine_events.EngineFinished):
            run.problems += [repr(failure) for failure in event.failures]
    return run


def engine_schema(server: LiveServer, **config: Any) -> Any:
    settings = {
        "seed": ENGINE_SEED,
        "workers": 1,
        "generation": {"max-examples": ENGINE_EXAMPLES, "database": "none"},
        **config,
    }
    url = f"http://127.0.0.1:{server.port}/openapi.json"
    return schemathesis.openapi.from_url(url, config=schemathesis.Config.from_dict(settings))


def rooms_named_in(answer: object) -> set[str]:
    """Every `room` field anywhere in a JSON answer."""
    if isinstance(answer, dict):
        found = {answer["room"]} if isinstance(answer.get("room"), str) else set()
        return found.union(*(rooms_named_in(value) for value in answer.values()))
    if isinstance(answer, list):
        return set().union(*(rooms_named_in(value) for value in answer))
    return set()


def why_we_keep(found: Finding) -> str | None:
    """The heading of docs/api.md that says why this finding is kept; None: a bug."""
    error, status, check = found.error, found.status, found.check
    message = str(error.get("message", ""))
    if status == 501 and error.get("code") == "not_implemented":
        return "A method the server does not know is `501`"
    if status == 414:
        return "A request line over 8 KiB is `414`"
    if check == "positive_data_acceptance" and status == 400 and "yourself" in message:
        return "Reporting or messaging yourself is `400`"
    if check == "positive_data_acceptance" and status == 400 and error.get("field") == "send_at":
        return "`send_at` more than 30 days ahead is `400`"
    if (
        check == "negative_data_rejection"
        and status in (201, 202)
        and "idempotency-key" in found.request_headers
    ):
        return "A repeated `Idempotency-Key` answers as the first time"
    if check == "ensure_resource_availability" and status == 404:
        return "A room one has left is gone; so is a user who does not exist"
    if check == "object_level_authorization" and rooms_named_in(found.answer) == {"general"}:
        return "`general` belongs to everyone"
    if check == "positive_data_acceptance" and (
        (status == 400 and message.startswith("a user name"))
        or (status == 409 and "looks too much like" in message)
    ):
        return "A name is read after NFKC, in one script, unlike any other"
    if check == "positive_data_acceptance" and status == 400 and error.get("code") == "bad_json":
        return "JSON the server cannot hold safely is `400 bad_json`"
    return None


KEPT_FINDINGS = (
    "A method the server does not know is `501`",
    "A request line over 8 KiB is `414`",
    "Reporting or messaging yourself is `400`",
    "`send_at` more than 30 days ahead is `400`",
    "A repeated `Idempotency-Key` answers as the first time",
    "A room one has left is gone; so is a user who does not exist",
    "`general` belongs to everyone",
    "A name is read after NFKC, in one script, unlike any other",
    "JSON the server cannot hold safely is `400 bad_json`",
)


@pytest.fixture(scope="module")
def engine_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = LiveServer(quick_settings(tmp_path_factory.mktemp("engine") / "data"))
    server.start()
    try:
        for peer in PEERS:
            connect(f"http://127.0.0.1:{server.port}", peer)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def strangers_run(engine_server: LiveServer) -> EngineRun:
    schema = engine_schema(engine_server)
    schema.config.checks.update(included_check_names=["all"], excluded_check_names=[*PEER_CHECKS])
    register(schema.auth, f"http://127.0.0.1:{engine_server.port}")
    return run_engine(schema)


@pytest.fixture(scope="module")
def peers_run(engine_server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> EngineRun:
    wfc = {
        "auth": [
            {
                "name": peer,
                "loginEndpointAuth": {
                    "endpoint": "/connect",
                    "verb": "POST",
                    "contentType": "application/json",
                    "payloadRaw": json.dumps({"name": peer, "password": PASSWORD}),
                    "token": {
                        "extractFrom": "body",
                        "extractSelector": "/token",
                        "sendIn": "header",
                        "sendName": "Authorization",
                        "sendTemplate": "Bearer {token}",
                    },
                },
            }
            for peer in PEERS
        ]
    }
    path = tmp_path_factory.mktemp("peers") / "wfc.json"
    path.write_text(json.dumps(wfc), encoding="utf-8")
    schema = engine_schema(
        engine_server, auth={"wfc": {"path": str(path), "user": PEERS[0], "peers": [*PEERS]}}
    )
    schema.config.checks.update(included_check_names=[*PEER_CHECKS])
    # The stateful phase is where one identity creates objects and reads them back: what
    # the check replays as the other peer.
    schema.config.phases.update(phases=["stateful"])
    return run_engine(schema.exclude(method="POST", path="/disconnect"))


@pytest.mark.slow  # two runs of the whole engine: about half a minute
def test_a_strangers_run_with_every_check_finds_only_what_we_chose(
    strangers_run: EngineRun,
) -> None:
    assert not strangers_run.problems
    bugs = [found for found in strangers_run.findings if why_we_keep(found) is None]
    assert not bugs


@pytest.mark.slow  # two runs of the whole engine: about half a minute
def test_two_peers_cannot_read_each_others_objects(peers_run: EngineRun) -> None:
    assert not peers_run.problems
    assert peers_run.checks_run == PEER_CHECKS
    bugs = [found for found in peers_run.findings if why_we_keep(found) is None]
    assert not bugs


@pytest.mark.slow  # two runs of the whole engine: about half a minute
def test_the_two_runs_ran_every_check_schemathesis_has(
    strangers_run: EngineRun, peers_run: EngineRun
) -> None:
    every_check = set(SCHEMATHESIS_CHECKS.get_all_names())
    assert len(every_check) >= 14
    assert strangers_run.checks_run | peers_run.checks_run >= every_check


@pytest.mark.slow  # two runs of the whole engine: about half a minute
def test_the_findings_we_keep_are_written_down(strangers_run: EngineRun) -> None:
    api_md = API_MD.read_text(encoding="utf-8")
    for heading in KEPT_FINDINGS:
        assert f"#### {heading}\n" in api_md, heading
    # The one found on every run: the coverage phase always tries QUERY.
    kept = {why_we_keep(found) for found in strangers_run.findings}
    assert "A method the server does not know is `501`" in kept


def test_the_classifier_keeps_only_what_it_names() -> None:
    unknown = Finding(
        check="not_a_server_error",
        method="POST",
        path="/send",
        request_headers={},
        status=500,
        answer={"error": {"code": "internal", "message": "internal server error"}},
    )
    assert why_we_keep(unknown) is None
    query = Finding(
        check="unsupported_method",
        method="QUERY",
        path="/send",
        request_headers={},
        status=501,
        answer={"error": {"code": "not_implemented", "message": "method QUERY"}},
    )
    assert why_we_keep(query) == KEPT_FINDINGS[0]
