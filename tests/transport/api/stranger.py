"""How a stranger runs schemathesis against chat-server: one login, and `/disconnect` apart.

`POST /disconnect` revokes the token it is called with, so a run that sent
its one token there would get `401` for everything after. Each call of
`/disconnect` gets a session of its own instead, of a user of its own (a
session per call of one user would pile up against the cap of open
sessions whenever a call does not reach the handler); every other request
uses the one session of the user `stranger`.

`register` puts the two auth providers on a schemathesis auth storage: a
schema's own in the tests (`test_schemathesis.py`), the global one when
`schemathesis run` loads `stranger_hooks.py` (docs/api.md says how).
"""

from __future__ import annotations

import http.client
import itertools
import json
from typing import Any
from urllib.parse import urlsplit

__all__ = ["STRANGER", "connect", "register"]

STRANGER = "stranger"
PASSWORD = "correct horse"
TIMEOUT_S = 10


def connect(base_url: str, name: str) -> str:
    """A new session's token for `name` (registered on first use).

    Raises RuntimeError when the server does not answer 200 or 201.
    """
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=TIMEOUT_S)
    try:
        body = json.dumps({"name": name, "password": PASSWORD})
        connection.request(
            "POST", "/connect", body=body, headers={"Content-Type": "application/json"}
        )
        answer = connection.getresponse()
        payload = answer.read()
    finally:
        connection.close()
    if answer.status not in (200, 201):
        raise RuntimeError(f"/connect as {name} answered {answer.status}: {payload[:200]!r}")
    token: str = json.loads(payload)["token"]
    return token


class _Bearer:
    def set(self, case: Any, data: str, ctx: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


def register(auth: Any, base_url: str) -> None:
    """Register the two providers with `auth` (`schemathesis.auth`, or a schema's `auth`)."""
    leavers = itertools.count()

    @auth(refresh_interval=None).apply_to(method="POST", path="/disconnect")
    class SessionOfItsOwn(_Bearer):
        def get(self, case: Any, ctx: Any) -> str:
            return connect(base_url, f"leaver{next(leavers)}")

    @auth().skip_for(method="POST", path="/disconnect")
    class OneSession(_Bearer):
        def get(self, case: Any, ctx: Any) -> str:
            return connect(base_url, STRANGER)
