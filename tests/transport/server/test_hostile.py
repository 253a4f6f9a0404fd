"""Malformed and hostile requests against the real server over a real socket.

Each case must be answered with its status and `Connection: close`, the
connection must close, and the request smuggled behind it must never run.
"""

from __future__ import annotations

import asyncio

import pytest
from attrs import evolve

from tests.transport.server.support import FAST_LIMITS, exchange, running, statuses

H = b"Host: x\r\n"
POST = b"POST /echo HTTP/1.1\r\n" + H
CHUNKED = POST + b"Transfer-Encoding: chunked\r\n\r\n"
SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"

CASES: list[tuple[str, bytes, int]] = [
    # Request line
    ("http/0.9", b"GET /\r\n\r\n", 400),
    ("http/2.0", b"GET / HTTP/2.0\r\n" + H + b"\r\n", 505),
    ("http/1.2", b"GET / HTTP/1.2\r\n" + H + b"\r\n", 505),
    ("version two digits", b"GET / HTTP/10.1\r\n" + H + b"\r\n", 400),
    ("version extra", b"GET / HTTP/1.1.1\r\n" + H + b"\r\n", 400),
    ("lowercase version", b"GET / http/1.1\r\n" + H + b"\r\n", 400),
    ("double space", b"GET  / HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("trailing space", b"GET / HTTP/1.1 \r\n" + H + b"\r\n", 400),
    ("tab separator", b"GET\t/ HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("leading space", b" GET / HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("non-ascii target", b"GET /\xff HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("asterisk with GET", b"GET * HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("relative target", b"GET foo HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("bad method token", b"G(T / HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("request line 9 KiB", b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n" + H + b"\r\n", 414),
    ("bare LF everywhere", b"GET /json HTTP/1.1\nHost: x\n\n", 400),
    ("bare LF after request line", b"GET /json HTTP/1.1\n" + H + b"\r\n", 400),
    ("bare CR in request line", b"GET /json\rX HTTP/1.1\r\n" + H + b"\r\n", 400),
    # Header fields
    ("no Host", b"GET /json HTTP/1.1\r\n\r\n", 400),
    ("two Host", b"GET /json HTTP/1.1\r\n" + H + H + b"\r\n", 400),
    ("obs-fold", b"GET /json HTTP/1.1\r\n" + H + b"X-A: a\r\n b\r\n\r\n", 400),
    ("space before colon", b"GET /json HTTP/1.1\r\nHost : x\r\n\r\n", 400),
    ("no colon", b"GET /json HTTP/1.1\r\n" + H + b"Nonsense\r\n\r\n", 400),
    ("empty name", b"GET /json HTTP/1.1\r\n" + H + b": x\r\n\r\n", 400),
    ("non-token name", b"GET /json HTTP/1.1\r\n" + H + b"X(y: 1\r\n\r\n", 400),
    ("NUL in value", b"GET /json HTTP/1.1\r\n" + H + b"X-A: a\x00b\r\n\r\n", 400),
    ("bare CR in value", b"GET /json HTTP/1.1\r\n" + H + b"X-A: a\rb\r\n\r\n", 400),
    ("bare LF in header", b"GET /json HTTP/1.1\r\n" + H + b"X-A: a\nX-B: b\r\n\r\n", 400),
    ("CTL in value", b"GET /json HTTP/1.1\r\n" + H + b"X-A: a\x01b\r\n\r\n", 400),
    ("DEL in value", b"GET /json HTTP/1.1\r\n" + H + b"X-A: a\x7fb\r\n\r\n", 400),
    (
        "header section 17 KiB",
        b"GET /json HTTP/1.1\r\n" + H + b"X-Big: " + b"a" * 17000 + b"\r\n\r\n",
        431,
    ),
    (
        "101 header fields",
        b"GET /json HTTP/1.1\r\n" + H + b"".join(b"X-%d: 1\r\n" % i for i in range(100)) + b"\r\n",
        431,
    ),
    # Content-Length
    ("CL plus sign", POST + b"Content-Length: +1\r\n\r\na", 400),
    ("CL minus", POST + b"Content-Length: -1\r\n\r\n", 400),
    ("CL underscore", POST + b"Content-Length: 1_0\r\n\r\n0123456789", 400),
    ("CL hex", POST + b"Content-Length: 0x1\r\n\r\na", 400),
    ("CL arabic digit", POST + "Content-Length: \u0663\r\n\r\nabc".encode(), 400),
    ("CL 20 digits", POST + b"Content-Length: " + b"1" * 20 + b"\r\n\r\n", 400),
    ("CL differing duplicate", POST + b"Content-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400),
    ("CL differing list", POST + b"Content-Length: 1, 2\r\n\r\nab", 400),
    ("CL empty", POST + b"Content-Length: \r\n\r\n", 400),
    ("CL inner space", POST + b"Content-Length: 1 1\r\n\r\n", 400),
    ("CL empty list element", POST + b"Content-Length: 1,\r\n\r\na", 400),
    ("CL over route limit", POST + b"Content-Length: 5000\r\n\r\n" + b"a" * 100, 413),
    # Transfer-Encoding
    ("CL then TE", POST + b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("TE then CL", POST + b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", 400),
    ("chunked, chunked", POST + b"Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400),
    (
        "TE chunked twice",
        POST + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    ("chunked, gzip", POST + b"Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", 400),
    ("gzip, chunked", POST + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501),
    ("TE gzip only", POST + b"Transfer-Encoding: gzip\r\n\r\n", 400),
    ("TE xchunked", POST + b"Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", 400),
    ("TE empty element", POST + b"Transfer-Encoding: , chunked\r\n\r\n0\r\n\r\n", 400),
    (
        "TE in HTTP/1.0",
        b"POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    # Chunks
    ("chunk size 0x1", CHUNKED + b"0x1\r\na\r\n0\r\n\r\n", 400),
    ("chunk size +1", CHUNKED + b"+1\r\na\r\n0\r\n\r\n", 400),
    ("chunk size 1_0", CHUNKED + b"1_0\r\n" + b"a" * 16 + b"\r\n0\r\n\r\n", 400),
    ("chunk size leading space", CHUNKED + b" 1\r\na\r\n0\r\n\r\n", 400),
    ("chunk size 17 digits", CHUNKED + b"0" * 16 + b"1\r\na\r\n0\r\n\r\n", 400),
    ("chunk size not hex", CHUNKED + b"g\r\na\r\n0\r\n\r\n", 400),
    ("chunk size arabic digit", CHUNKED + "\u0661\r\na\r\n0\r\n\r\n".encode(), 400),
    ("chunk size empty", CHUNKED + b"\r\na\r\n0\r\n\r\n", 400),
    ("chunk data too long", CHUNKED + b"1\r\nabc\r\n0\r\n\r\n", 400),
    ("bare LF after size", CHUNKED + b"1\na\r\n0\r\n\r\n", 400),
    ("bare CR in size line", CHUNKED + b"1\rx\r\na\r\n0\r\n\r\n", 400),
    ("bare CR in extension", CHUNKED + b"1;a\rb\r\na\r\n0\r\n\r\n", 400),
    ("bare LF after data", CHUNKED + b"1\r\na\n0\r\n\r\n", 400),
    ("chunk line too long", CHUNKED + b"1;" + b"e" * 2000 + b"\r\na\r\n0\r\n\r\n", 400),
    ("bad trailer field", CHUNKED + b"0\r\nBad Field\r\n\r\n", 400),
    ("obs-fold trailer", CHUNKED + b"0\r\nX-T: a\r\n b\r\n\r\n", 400),
    ("chunked over route limit", CHUNKED + (b"200\r\n" + b"a" * 512 + b"\r\n") * 3, 413),
    ("control character in extension", CHUNKED + b"1;a=\x01\r\na\r\n0\r\n\r\n", 400),
    ("NUL in extension", CHUNKED + b"1;a\x00\r\na\r\n0\r\n\r\n", 400),
    ("extension without a name", CHUNKED + b"1;\r\na\r\n0\r\n\r\n", 400),
    ("extension value unquoted space", CHUNKED + b"1;a=b c\r\na\r\n0\r\n\r\n", 400),
]


def test_table_is_large_enough() -> None:
    assert len(CASES) >= 50
    assert len({name for name, _, _ in CASES}) == len(CASES)


@pytest.mark.parametrize(("name", "request_bytes", "status"), CASES, ids=[c[0] for c in CASES])
def test_hostile_request_is_rejected_and_closed(
    name: str, request_bytes: bytes, status: int
) -> None:
    async def scenario() -> None:
        async with running() as (server, calls):
            raw = await exchange(server.port, request_bytes + SMUGGLED)
            assert statuses(raw) == [status], raw[:300]
            head = raw.split(b"\r\n\r\n", 1)[0]
            assert b"\r\nConnection: close" in head
            assert b'"error":{"code":' in raw
            assert calls.smuggled == 0

    asyncio.run(scenario())


def test_smuggled_request_is_answered_when_the_first_is_valid() -> None:
    # Guards the table above: the smuggled request does run when not hidden.
    async def scenario() -> None:
        async with running() as (server, calls):
            raw = await exchange(
                server.port,
                b"GET /json HTTP/1.1\r\n"
                + H
                + b"\r\n"
                + SMUGGLED[:-2]
                + b"Connection: close\r\n\r\n",
            )
            assert statuses(raw) == [200, 200]
            assert calls.smuggled == 1

    asyncio.run(scenario())


# Deadlines far away: an answer within the exchange's hang guard did not wait for one.
PATIENT = evolve(FAST_LIMITS, header_timeout_s=60.0, body_grace_s=60.0)


@pytest.mark.parametrize(
    "partial",
    [
        b"GET /json HTTP/1.1\r\nHost: x\nX-A: 1\n\n",
        b"GET /json HTTP/1.1\r\nHost: x\r\nX-A: 1\rX",
        CHUNKED + b"1\r\na\r\n0\r\nX-T: 1\nX-U: 2\n\n",
    ],
    ids=["LF in header section", "CR in header section", "LF in trailers"],
)
def test_a_bare_line_end_is_a_400_at_once_not_a_408_at_the_deadline(partial: bytes) -> None:
    async def scenario() -> None:
        async with running(PATIENT) as (server, _):
            raw = await exchange(server.port, partial, timeout_s=5)
            assert statuses(raw) == [400]
            assert b"Connection: close" in raw

    asyncio.run(scenario())
