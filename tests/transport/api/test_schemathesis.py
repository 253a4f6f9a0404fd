"""Schemathesis against the real server: its own /openapi.json is the contract.

The server runs in this process, in a thread with its own event loop (the
generated requests are synchronous), on 127.0.0.1:0 with a temporary data
directory, no fsync and a cheap scrypt. Every operation gets positive and
negative cases; the checks are: no 5xx, and every answer matches the schema
documented for its status. Long polls are capped at a fraction of a second by
the server's settings, which the document advertises, so no case waits long.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from schemathesis.specs.openapi.schemas import OpenApiSchema

from app import Settings, open_service
from eventstore import FsyncPolicy
from tests.transport.api.test_openapi import CORE_ENDPOINTS, concrete_path
from transport.api.openapi import openapi_document
from transport.serve import start_api, stop_api

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


class LiveServer:
    """The API on a background thread's event loop; `stop()` shuts it down cleanly."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.port = 0
        self.users: list[str] = []
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="live-server")

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to the test thread
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        service = await open_service(self.settings)
        server = await start_api(service, self.settings)
        self.port = server.port
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await stop_api(server, service)

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(30) or self._error is not None:
            raise RuntimeError("the server did not start") from self._error

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        assert not self._thread.is_alive()
        if self._error is not None:
            raise self._error

    def request(
        self, method: str, path: str, body: object = None, token: str | None = None
    ) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        try:
            payload = None if body is None else json.dumps(body).encode()
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def connect(self, name: str) -> str:
        status, body = self.request("POST", "/connect", {"name": name, "password": "pw"})
        assert status in (200, 201), body
        token: str = json.loads(body)["token"]
        return token


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir: Path = tmp_path_factory.mktemp("schemathesis") / "data"
    server = LiveServer(
        Settings(
            port=0,
            data_dir=data_dir,
            fsync=FsyncPolicy.NONE,
            scrypt_n=2**4,
            min_password_length=1,
            report_min_account_age_s=0.0,
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
