"""A real server on a real socket for black-box tests, and a tiny JSON client.

`LiveServer` runs the service and our HTTP server on their own event loop in
a thread, bound to 127.0.0.1 port 0 over a data directory the test owns;
tests speak plain HTTP/1.1 to it with the stdlib client, as any user would.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from attrs import define, field, frozen

from app import Budget, ChatService, Settings, open_service
from eventstore import FsyncPolicy
from transport.serve import start_api, stop_api
from transport.server import HttpServer

START_TIMEOUT_S = 10.0


def fast_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Fast settings: cheap scrypt, no fsync, port 0."""
    values: dict[str, Any] = {
        "port": 0,
        "data_dir": data_dir,
        "fsync": FsyncPolicy.NONE,
        "scrypt_n": 2,
        "cursor_flush_interval_s": 0.05,
        "shutdown_grace_s": 1.0,
        "min_password_length": 1,  # tests use short passwords
        "report_min_account_age_s": 0.0,  # and report from new accounts
        "budget_registrations": Budget(requests=10**9),  # all from one address
    }
    values.update(overrides)
    return Settings(**values)


@frozen
class Reply:
    status: int
    headers: Mapping[str, str]
    body: Any  # parsed JSON, or bytes for other content

    def error_code(self) -> str:
        return str(self.body["error"]["code"])


@define
class Client:
    """One keep-alive HTTP/1.1 connection, JSON in and out."""

    port: int
    token: str | None = None
    timeout_s: float = 30.0
    _conn: http.client.HTTPConnection | None = field(default=None, init=False)

    def call(
        self,
        method: str,
        path: str,
        body: object = None,
        *,
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        if self._conn is None:
            self._conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout_s)
        sent_headers = dict(headers or {})
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            sent_headers["Content-Type"] = "application/json"
        if (token or self.token) and "Authorization" not in sent_headers:
            sent_headers["Authorization"] = f"Bearer {token or self.token}"
        self._conn.request(method, path, payload, sent_headers)
        response = self._conn.getresponse()
        data = response.read()
        if response.will_close:
            self.close()
        content_type = response.getheader("Content-Type", "")
        parsed: Any = json.loads(data) if content_type.startswith("application/json") else data
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, parsed)

    def connect(self, name: str, password: str = "pw") -> Reply:
        reply = self.call("POST", "/connect", {"name": name, "password": password})
        if reply.status in (200, 201):
            self.token = reply.body["token"]
        return reply

    def send(self, text: str, **target: str) -> Reply:
        return self.call("POST", "/send", {"text": text, **target})

    def events(self, after: int, timeout_s: float = 0) -> Reply:
        return self.call("GET", f"/events?after={after}&timeout={timeout_s}")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class LiveServer:
    """The chat server on its own loop in a thread."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.service: ChatService | None = None
        self.server: HttpServer | None = None
        self._clients: list[Client] = []

    def start(self) -> LiveServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(START_TIMEOUT_S)
        return self

    async def _start(self) -> None:
        self.service = await open_service(self.settings)
        self.server = await start_api(self.service, self.settings)

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.port

    def client(self, token: str | None = None) -> Client:
        """A client of this server; closed when the server stops."""
        client = Client(self.port, token)
        self._clients.append(client)
        return client

    def stop(self) -> None:
        """Stop the server and its loop; once stopped, stopping again does nothing."""
        if self.loop.is_closed():
            return
        for client in self._clients:
            client.close()
        if self.server is not None and self.service is not None:
            asyncio.run_coroutine_threadsafe(stop_api(self.server, self.service), self.loop).result(
                START_TIMEOUT_S
            )
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(START_TIMEOUT_S)
        self.loop.close()


@contextmanager
def live_server(data_dir: Path, **overrides: Any) -> Iterator[LiveServer]:
    server = LiveServer(fast_settings(data_dir, **overrides)).start()
    try:
        yield server
    finally:
        server.stop()
