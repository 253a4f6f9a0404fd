"""Request bodies, JSON helpers and the long-poll wait, with a fake body source."""

from __future__ import annotations

import asyncio
import json

import pytest

from transport.http import Headers, HttpError
from transport.server import (
    HttpLimits,
    Request,
    error_response,
    json_response,
    read_json,
    wait_for_event,
)

LIMITS = HttpLimits()


class FakeBody:
    """A body source handing out fixed pieces."""

    def __init__(self, *pieces: bytes) -> None:
        self.pieces = list(pieces)

    async def read_body_chunk(self) -> bytes:
        return self.pieces.pop(0) if self.pieces else b""


def request(
    *pieces: bytes, content_type: str | None = "application/json", limits: HttpLimits = LIMITS
) -> Request:
    headers = Headers([("Content-Type", content_type)] if content_type else [])
    return Request(
        method="POST",
        target="/x?a=1&a=2&b=",
        version="HTTP/1.1",
        headers=headers,
        peer="127.0.0.1:1",
        raw_path="/x",
        raw_query="a=1&a=2&b=",
        max_body_bytes=100,
        closing=asyncio.Event(),
        limits=limits,
        source=FakeBody(*pieces),
    )


def test_body_is_joined_and_cached_and_stream_is_single_use() -> None:
    async def scenario() -> None:
        req = request(b"ab", b"cd")
        assert await req.body() == b"abcd"
        assert await req.body() == b"abcd"
        with pytest.raises(RuntimeError, match="consumed"):
            [c async for c in req.stream()]

    asyncio.run(scenario())


def test_query_is_multi_valued() -> None:
    req = request()
    assert req.query == {"a": ["1", "2"], "b": [""]}
    assert req.query_one("a") == "1"
    assert req.query_one("missing", "d") == "d"


@pytest.mark.parametrize(
    ("pieces", "content_type", "status", "code"),
    [
        ((b"{}",), "text/plain", 415, "unsupported_media_type"),
        ((b"{}",), None, 415, "unsupported_media_type"),
        ((b"{",), "application/json", 400, "bad_json"),
        ((b"[1]",), "application/json", 400, "bad_json"),
        ((b'"\xff"',), "application/json", 400, "bad_json"),
        ((b'{"t":"\\ud800"}',), "application/json", 400, "bad_json"),
        ((b'{"\\udc00":1}',), "application/json", 400, "bad_json"),
        ((b'{"a":["x",{"b":"\\udfffz"}]}',), "application/json", 400, "bad_json"),
        ((b'{"a":' + b"[" * 64 + b"]" * 64 + b"}",), "application/json", 400, "bad_json"),
        ((b'{"a":' + b"[" * 5000 + b"]" * 5000 + b"}",), "application/json", 400, "bad_json"),
        ((b'{"a":' + b"1" * 21 + b"}",), "application/json", 400, "bad_json"),
        ((b'{"a":-' + b"9" * 4000 + b"}",), "application/json", 400, "bad_json"),
        ((b'{"a":1e400}',), "application/json", 400, "bad_json"),
        ((b'{"a":NaN}',), "application/json", 400, "bad_json"),
        ((b'{"a":-Infinity}',), "application/json", 400, "bad_json"),
    ],
)
def test_read_json_rejects(
    pieces: tuple[bytes, ...], content_type: str | None, status: int, code: str
) -> None:
    async def scenario() -> None:
        with pytest.raises(HttpError) as caught:
            await read_json(request(*pieces, content_type=content_type))
        assert (caught.value.status, caught.value.code) == (status, code)

    asyncio.run(scenario())


def test_read_json_accepts_an_object_with_charset() -> None:
    async def scenario() -> dict[str, object]:
        req = request(b'{"t":', b'"\xd0\xb6"}', content_type="Application/JSON; charset=utf-8")
        return await read_json(req)

    assert asyncio.run(scenario()) == {"t": "ж"}


def test_read_json_accepts_what_it_can_represent() -> None:
    body = (
        b'{"pair":"\\ud83d\\ude00","nul":"\\u0000","deep":' + b"[" * 63 + b"]" * 63 + b","
        b'"big":18446744073709551615,"small":-9223372036854775808,"f":1.5e300}'
    )

    async def scenario() -> dict[str, object]:
        return await read_json(request(body))

    got = asyncio.run(scenario())
    assert got["pair"] == "\U0001f600"
    assert got["nul"] == "\x00"
    assert got["big"] == 2**64 - 1
    assert got["small"] == -(2**63)
    assert got["f"] == 1.5e300


def test_error_response_has_exactly_the_api_shape() -> None:
    response = error_response(429, "rate_limited", "slow down", retry_after=3)
    assert json.loads(response.body) == {
        "error": {"code": "rate_limited", "message": "slow down", "retry_after": 3}
    }
    assert json_response(200, {"a": "ж"}).body == '{"a":"ж"}'.encode()


def test_wait_for_event_fires_times_out_and_stops_at_shutdown() -> None:
    async def scenario() -> None:
        req = request()
        event = asyncio.Event()
        asyncio.get_running_loop().call_later(0.01, event.set)
        assert await wait_for_event(req, event, timeout_s=5) is True
        assert await wait_for_event(req, asyncio.Event(), timeout_s=0.01) is False
        asyncio.get_running_loop().call_later(0.01, req.closing.set)
        assert await wait_for_event(req, asyncio.Event(), timeout_s=5) is False

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("body", "accepted"),
    [(b'{"a":[1]}', True), (b'{"a":[[1]]}', False), (b'{"n":-999}', True), (b'{"n":1000}', False)],
)
def test_read_json_takes_its_bounds_from_the_server_limits(body: bytes, accepted: bool) -> None:
    limits = HttpLimits(max_json_depth=2, max_json_integer_digits=3)

    async def scenario() -> None:
        read = read_json(request(body, limits=limits))
        if accepted:
            assert await read == json.loads(body)
        else:
            with pytest.raises(HttpError) as caught:
                await read
            assert caught.value.code == "bad_json"

    asyncio.run(scenario())
