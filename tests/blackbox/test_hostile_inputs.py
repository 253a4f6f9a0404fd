"""No client input produces a 5xx or a traceback: hypothesis fuzzes the live chat server.

Requests are written byte by byte as an attacker would: any method, a known
route's path with hostile segments, percent-encoded queries of arbitrary
bytes, odd headers, and bodies of JSON the service cannot represent (lone
surrogates, deep nesting, huge numbers, NaN) or of no JSON at all. Each is
sent on its own connection; the answer must be a complete response below
500 (or the 501 of an unknown method), and the server's log must hold no ERROR and no traceback.
"""

from __future__ import annotations

import json
import logging
import re
import socket
from pathlib import Path
from typing import Any
from urllib.parse import quote_from_bytes

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.blackbox.support import live_server

_STATUS = re.compile(rb"HTTP/1\.1 ([0-9]{3}) ")
TIMEOUT_S = 10.0

# The chat API's routes, with a placeholder where a hostile segment goes.
ROUTES = [
    ("POST", "/connect"), ("POST", "/disconnect"), ("GET", "/status"), ("POST", "/send"),
    ("GET", "/rooms/{}/messages"), ("GET", "/scheduled"), ("DELETE", "/scheduled/{}"),
    ("POST", "/messages/{}/comments"), ("GET", "/messages/{}/comments"), ("POST", "/rooms"),
    ("GET", "/rooms"), ("POST", "/rooms/{}/members"), ("POST", "/rooms/{}/leave"),
    ("POST", "/rooms/{}/links"), ("DELETE", "/rooms/{}/links/{}"), ("POST", "/join/{}"),
    ("GET", "/rooms/{}/requests"), ("POST", "/rooms/{}/requests/{}"),
    ("POST", "/users/{}/report"), ("POST", "/files"), ("GET", "/messages/{}/file"),
    ("GET", "/events"), ("GET", "/health"), ("GET", "/openapi.json"), ("GET", "/docs"),
]  # fmt: skip
METHODS = ["GET", "POST", "DELETE", "HEAD", "PUT", "PATCH", "OPTIONS", "BREW"]
FIELDS = ["text", "room", "to", "name", "password", "members", "approve", "reason", "send_at"]
QUERY_NAMES = ["after", "timeout", "limit", "before", "log", "room", "to", "name", "text"]

encoded = st.binary(max_size=12).map(lambda b: quote_from_bytes(b, safe=""))
segments = st.one_of(
    st.sampled_from(["general", "0", "1", "-1", "99999999999999999999", "ann", "%2F", ".."]),
    encoded,
)
# JSON values written as text: what json.dumps would refuse to write, or write wrongly.
NASTY = [
    '"\\ud800"', '"x\\udfff"', '"\\u0000"', '"\\u202e"', "1e999", "-1e999", "NaN", "-Infinity",
    "9" * 30, "-" + "9" * 4000, "[" * 70 + "]" * 70, "[" * 3000 + "]" * 3000,
    '{"a":' * 80 + "1" + "}" * 80,
    "0.1", "-0", "1E+2", '""', "[]", "{}", "null", "true", '"general"', '"ann"',
]  # fmt: skip
texts = st.text(max_size=20) | st.sampled_from(["\ud800", "\x00", "\u202e", "ж" * 5])
numbers = st.integers() | st.floats() | st.integers(10**19, 10**40)
plain = st.recursive(
    st.none() | st.booleans() | numbers | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
).map(json.dumps)  # escapes lone surrogates as \udxxx, writes NaN and Infinity


@st.composite
def json_bodies(draw: st.DrawFn) -> bytes:
    """A JSON object with the API's field names (and others), often not representable."""
    keys = st.sampled_from(FIELDS) | texts.map(json.dumps) | st.sampled_from(NASTY[:4])
    fields = draw(st.lists(st.tuples(keys, st.sampled_from(NASTY) | plain), min_size=1, max_size=3))
    return (
        "{" + ",".join(f'"{k}":{v}' if k in FIELDS else f"{k}:{v}" for k, v in fields) + "}"
    ).encode()


@st.composite
def hostile_requests(draw: st.DrawFn, token: str) -> bytes:
    method, template = draw(st.sampled_from(ROUTES))
    if draw(st.integers(0, 9)) == 0:  # now and then another method, or no such path
        method = draw(st.sampled_from(METHODS))
        template += draw(st.sampled_from(["", "/{}"]))
    path = template.format(*(draw(segments) for _ in range(template.count("{}"))))
    query = draw(st.lists(st.tuples(st.sampled_from(QUERY_NAMES) | encoded, encoded), max_size=3))
    target = path + ("?" + "&".join(f"{n}={v}" for n, v in query) if query else "")
    headers = [("Host", "x"), ("Connection", "close")]
    # Mostly what a signed-in client sends, so that requests get past the first checks.
    auth = draw(st.sampled_from([f"Bearer {token}"] * 6 + [f"Bearer {token}x", "Basic x", ""]))
    if auth:
        headers.append(("Authorization", auth))
    content_type = draw(
        st.sampled_from(["application/json"] * 6 + ["application/json; charset=utf-8", "x/y", ""])
    )
    if content_type:
        headers.append(("Content-Type", content_type))
    key = draw(st.none() | st.text("abc\t !~\x80", max_size=300))
    if key is not None:
        headers.append(("Idempotency-Key", key))
    body = draw(st.one_of(json_bodies(), json_bodies(), json_bodies(), st.binary(max_size=64)))
    if body or method in ("POST", "PUT", "PATCH"):
        length = str(len(body))
        lengths = draw(st.sampled_from([[length], [length] * 2, [f"{length}, {length}"]]))
        headers.extend(("Content-Length", value) for value in lengths)
    head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{n}: {v}\r\n" for n, v in headers)
    return head.encode("utf-8") + b"\r\n" + body


def send(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S) as sock:
        sock.sendall(request)
        received = bytearray()
        while chunk := sock.recv(65536):
            received += chunk
    return bytes(received)


def test_no_request_gets_a_5xx_or_leaves_a_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[tuple[bytes, int]] = []
    with caplog.at_level(logging.INFO), live_server(tmp_path / "data") as server:
        token = str(server.client().connect("fuzz").body["token"])

        @given(hostile_requests(token))
        def check(request: bytes) -> None:
            raw = send(server.port, request)
            found = _STATUS.match(raw)
            assert found is not None, (request[:300], raw[:300])
            status = int(found[1])
            seen.append((request[:60], status))
            # 501 is HTTP.md's answer to an unknown method, not a failure of the server.
            assert status < 500 or status == 501, (request[:500], raw[:500])

        check()
    failures: list[Any] = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not failures, [r.getMessage() for r in failures]
    assert "Traceback" not in caplog.text
    assert {status for _, status in seen} - {400}, "every request was refused alike"
