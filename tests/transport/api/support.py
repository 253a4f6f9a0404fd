"""Shared by the API tests: the document and ways to walk it, and the server in a thread."""

from __future__ import annotations

import asyncio
import http.client
import json
import re
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema_rs

from app import Budget, Settings, open_service
from eventstore import FsyncPolicy
from transport.api.routes import openapi_document
from transport.serve import start_api, stop_api

API_MD = Path(__file__).resolve().parents[3] / "docs" / "api.md"
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
    ("get", "/metrics"),
    ("get", "/openapi.json"),
    ("get", "/docs"),
    ("get", "/"),
    ("get", "/web/{asset}"),
}


def operations(document: Mapping[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert method in METHODS, f"{path}: {method} is not an operation"
            yield method, path, operation


def documented_operations(document: Mapping[str, Any]) -> set[tuple[str, str]]:
    return {(method, path) for path, item in document["paths"].items() for method in item}


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


def quick_settings(data_dir: Path, **more: Any) -> Settings:
    """A test server's settings: any free port, no fsync, a cheap scrypt, short long polls."""
    return Settings(
        port=0,
        data_dir=data_dir,
        fsync=FsyncPolicy.NONE,
        scrypt_n=2**4,
        poll_timeout_max_s=0.2,
        poll_timeout_default_s=0.1,
        stream_lifetime_s=0.2,  # and short streams
        stream_heartbeat_s=0.05,
        shutdown_grace_s=1.0,
        min_password_length=1,  # the tests sign in with short passwords
        report_min_account_age_s=0.0,  # and report from new accounts
        budget_registrations=Budget(requests=10**9),  # from one address
        **more,
    )


async def send_raw(port: int, request: bytes) -> bytes:
    """Send one request as bytes (it should ask to close) and read the whole answer.

    Raises TimeoutError when the answer takes over 10 s: a deadline, not a measurement.
    """
    async with asyncio.timeout(10):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(request)
            await writer.drain()
            return await reader.read()
        finally:
            writer.close()
            await writer.wait_closed()


def concrete_path(template: str) -> str:
    """A path of the template with a plausible value for each parameter."""
    samples = {"room": "general", "id": "1", "name": "alice", "token": "x"}
    return re.sub(r"\{([^}]+)\}", lambda m: samples.get(m[1], "x"), template)


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
