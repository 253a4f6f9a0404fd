"""The client's HTTP code against real sockets: our server, and scripted raw servers."""

from __future__ import annotations

import asyncio
import itertools
import socket
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from urllib.parse import parse_qs, unquote

import pytest
from attrs import evolve
from hypothesis import given, settings
from hypothesis import strategies as st

from client.http import (
    BadResponseError,
    HttpClient,
    NetworkError,
    Origin,
    ResponseTooLargeError,
    encode_query,
    quote,
)
from tests.transport.server.support import FAST_LIMITS, running
from transport.http import LAST_CHUNK, encode_chunk
from transport.server import HttpServer, Request, Response, Router, json_response

RawHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def origin(port: int) -> Origin:
    return Origin(host="127.0.0.1", port=port)


@asynccontextmanager
async def raw_server(handler: RawHandler) -> AsyncIterator[int]:
    """A TCP server that runs `handler` per connection; yields its port."""
    tasks: set[asyncio.Task[None]] = set()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await handler(reader, writer)
        finally:
            writer.close()
            with suppress(OSError):
                await writer.wait_closed()
            tasks.discard(task)

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


async def read_head(reader: asyncio.StreamReader) -> bytes:
    return await reader.readuntil(b"\r\n\r\n")


def test_keep_alive_reuses_one_connection() -> None:
    async def peer(request: Request) -> Response:
        return json_response(200, {"peer": request.peer, "path": request.path})

    async def scenario() -> None:
        router = Router()
        router.add("GET", "/peer", peer)
        async with HttpServer(router, FAST_LIMITS) as server:
            await server.start("127.0.0.1", 0)
            async with HttpClient(origin(server.port)) as client:
                first = await client.request("GET", "/peer")
                second = await client.request("GET", "/peer")
                assert first.status == second.status == 200
                assert first.json()["peer"] == second.json()["peer"]
                assert client.connections_opened == 1
                assert server.open_connections == 1

    asyncio.run(scenario())


def test_chunked_and_sized_streamed_responses() -> None:
    async def scenario() -> None:
        async with running() as (server, _), HttpClient(origin(server.port)) as client:
            chunked = await client.request("GET", "/download")
            assert chunked.headers.get("transfer-encoding") == "chunked"
            assert chunked.body == b"part0;part1;part2;"
            sized = await client.request("GET", "/download?sized=1")
            assert sized.headers.get("content-length") == "18"
            assert sized.body == b"part0;part1;part2;"
            echoed = await client.request("POST", "/echo", body="жёлтый".encode())
            assert echoed.body.decode() == "жёлтый"
            assert client.connections_opened == 1

    asyncio.run(scenario())


def test_a_request_past_its_deadline_fails_and_the_next_one_works() -> None:
    async def scenario() -> None:
        async with running() as (server, _), HttpClient(origin(server.port)) as client:
            started = time.monotonic()
            with pytest.raises(NetworkError, match="in time"):
                await client.request("GET", "/slow", timeout_s=0.05)
            assert time.monotonic() - started < 1.0
            response = await client.request("GET", "/slow")
            assert response.json() == {"slow": True}
            assert client.connections_opened == 2

    asyncio.run(scenario())


def test_a_server_that_never_answers_times_out() -> None:
    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(10)

    async def scenario() -> None:
        async with raw_server(mute) as port, HttpClient(origin(port), timeout_s=0.1) as client:
            with pytest.raises(NetworkError):
                await client.request("GET", "/")

    asyncio.run(scenario())


@pytest.mark.parametrize(
    "partial",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Le",
    ],
    ids=["sized", "chunked", "head"],
)
def test_a_server_closing_mid_response_is_a_clean_error(partial: bytes) -> None:
    async def cut(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        writer.write(partial)
        await writer.drain()

    async def scenario() -> None:
        async with raw_server(cut) as port, HttpClient(origin(port), timeout_s=2.0) as client:
            started = time.monotonic()
            with pytest.raises(NetworkError, match="mid-response"):
                await client.request("GET", "/")
            assert time.monotonic() - started < 1.0

    asyncio.run(scenario())


def test_an_idle_connection_closed_by_the_server_is_replaced() -> None:
    async def scenario() -> None:
        limits = evolve(FAST_LIMITS, keepalive_timeout_s=0.1)
        async with running(limits) as (server, _), HttpClient(origin(server.port)) as client:
            assert (await client.request("GET", "/json")).status == 200
            await asyncio.sleep(0.4)  # the server closes the idle connection
            assert (await client.request("GET", "/json")).status == 200
            assert client.connections_opened == 2

    asyncio.run(scenario())


def one_answer_then_drop(counter: list[int]) -> RawHandler:
    """Answer one request, then drop the connection when the next one arrives."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        counter.append(1)
        await read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        await read_head(reader)  # the second request: closed without an answer

    return handler


def test_a_dropped_keep_alive_is_retried_once_for_idempotent_requests() -> None:
    async def scenario() -> None:
        connections: list[int] = []
        async with (
            raw_server(one_answer_then_drop(connections)) as port,
            HttpClient(origin(port)) as client,
        ):
            assert (await client.request("GET", "/a")).body == b"ok"
            assert (await client.request("GET", "/b")).body == b"ok"
            assert len(connections) == 2
            keyed = (("Idempotency-Key", "k1"),)
            assert (await client.request("POST", "/c", headers=keyed)).body == b"ok"
            assert len(connections) == 3
            # A POST without a key may have had an effect: it is not repeated.
            with pytest.raises(NetworkError, match="closed"):
                await client.request("POST", "/d", body=b"x")
            assert len(connections) == 3

    asyncio.run(scenario())


def test_a_response_larger_than_the_cap_is_refused() -> None:
    async def scenario() -> None:
        async with running() as (server, calls):
            async with HttpClient(origin(server.port), max_response_bytes=100_000) as client:
                with pytest.raises(ResponseTooLargeError):
                    await client.request("GET", "/flood")
                assert (await client.request("GET", "/json")).status == 200
                assert client.connections_opened == 2
            for _ in range(50):
                if calls.flood_closed:
                    break
                await asyncio.sleep(0.02)
            assert calls.flood_closed == 1

    asyncio.run(scenario())


def test_cannot_connect_is_a_network_error() -> None:
    async def scenario() -> None:
        async with raw_server(one_answer_then_drop([])) as port:
            pass  # the port is closed again now
        async with HttpClient(origin(port)) as client:
            with pytest.raises(NetworkError, match="cannot reach"):
                await client.request("GET", "/")

    asyncio.run(scenario())


def test_a_response_read_until_close_and_interim_heads() -> None:
    async def unframed(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\n\r\nall of it")
        await writer.drain()

    async def scenario() -> None:
        async with raw_server(unframed) as port, HttpClient(origin(port)) as client:
            assert (await client.request("GET", "/")).body == b"all of it"
            assert (await client.request("GET", "/")).body == b"all of it"
            assert client.connections_opened == 2

    asyncio.run(scenario())


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello",
        b"HTTP/1.1 200 OK\nContent-Length: 5\n\nhello",
        b"SMTP ready\r\n\r\n",
    ],
)
def test_a_malformed_response_is_a_bad_response(answer: bytes) -> None:
    async def broken(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        writer.write(answer)
        await writer.drain()
        await asyncio.sleep(1)

    async def scenario() -> None:
        async with raw_server(broken) as port, HttpClient(origin(port)) as client:
            with pytest.raises(BadResponseError):
                await client.request("GET", "/")
            assert client.connections_opened == 1

    asyncio.run(scenario())


def test_header_injection_is_refused_before_sending() -> None:
    async def scenario() -> None:
        async with HttpClient(origin(9)) as client:
            with pytest.raises(ValueError, match="control characters"):
                await client.request("GET", "/", headers=(("X-A", "1\r\nX-B: 2"),))
            assert client.connections_opened == 0

    asyncio.run(scenario())


@given(st.text())
def test_quote_round_trips_and_is_a_valid_target(text: str) -> None:
    encoded = quote(text)
    assert unquote(encoded, errors="strict") == text
    assert all(0x21 <= ord(c) <= 0x7E for c in encoded)


@given(st.dictionaries(st.text(min_size=1), st.one_of(st.none(), st.text(), st.integers())))
def test_encode_query_round_trips(params: dict[str, str | int | None]) -> None:
    expected = {k: [str(v)] for k, v in params.items() if v is not None}
    query = encode_query(params)
    assert (query == "") == (not expected)
    assert parse_qs(query[1:], keep_blank_values=True, strict_parsing=bool(expected)) == expected


@given(
    st.one_of(
        st.from_regex(r"[a-z][a-z0-9.-]{0,20}", fullmatch=True),
        st.ip_addresses(v=4).map(str),
    ),
    st.integers(1, 65535),
    st.booleans(),
)
def test_origin_parse_round_trips(host: str, port: int, slash: bool) -> None:
    url = f"http://{host}:{port}" + ("/" if slash else "")
    parsed = Origin.parse(url)
    assert (parsed.host, parsed.port) == (host, port)
    assert Origin.parse(str(parsed)) == parsed


@pytest.mark.parametrize(
    "url",
    ["https://x:1", "http://x:0", "http://x:70000", "http://x:1/path", "x:1", "http://:1", ""],
)
def test_origin_parse_refuses(url: str) -> None:
    with pytest.raises(ValueError, match=r"URL|port"):
        Origin.parse(url)


def test_ipv6_origin() -> None:
    parsed = Origin.parse("http://[::1]:8000")
    assert parsed == Origin(host="::1", port=8000)
    assert parsed.authority == "[::1]:8000"
    assert str(Origin.parse("http://example.org")) == "http://example.org"


@pytest.mark.parametrize(
    ("answer", "reused"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", True),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", False),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", False),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok", True),
        (b"HTTP/1.1 204 No Content\r\n\r\n", True),
    ],
    ids=["1.1", "close", "1.0", "1.0-keep-alive", "204"],
)
def test_the_connection_is_kept_only_when_the_server_keeps_it(answer: bytes, reused: bool) -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_head(reader)
            writer.write(answer)
            await writer.drain()
            if not reused:
                return

    async def scenario() -> None:
        async with raw_server(serve) as port, HttpClient(origin(port)) as client:
            for _ in range(3):
                response = await client.request("GET", "/")
                assert response.body == (b"" if b"204" in answer else b"ok")
            assert client.connections_opened == (1 if reused else 3)

    asyncio.run(scenario())


def test_a_reset_keep_alive_is_retried_on_a_fresh_connection() -> None:
    connections: list[int] = []

    async def answer_then_reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        await read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        await read_head(reader)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()  # RST instead of FIN

    async def scenario() -> None:
        async with raw_server(answer_then_reset) as port, HttpClient(origin(port)) as client:
            for _ in range(3):
                assert (await client.request("GET", "/")).body == b"ok"
            assert len(connections) == 3  # 1 + one fresh connection per reset

    asyncio.run(scenario())


def test_an_announced_length_over_the_cap_is_refused_before_reading() -> None:
    async def huge(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 999999999\r\n\r\nstart")
        await writer.drain()
        await asyncio.sleep(10)  # the rest never comes: reading it would time out

    async def scenario() -> None:
        async with (
            raw_server(huge) as port,
            HttpClient(origin(port), max_response_bytes=1000, timeout_s=5) as client,
        ):
            started = time.monotonic()
            with pytest.raises(ResponseTooLargeError, match="999999999"):
                await client.request("GET", "/")
            assert time.monotonic() - started < 1.0

    asyncio.run(scenario())


def encode_response(body: bytes, chunk_sizes: list[int] | None) -> bytes:
    if chunk_sizes is None:
        return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%b" % (len(body), body)
    pieces, start = [], 0
    for size in itertools.cycle(chunk_sizes):
        if start >= len(body):
            break
        pieces.append(encode_chunk(body[start : start + size]))
        start += size
    return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"".join(pieces) + LAST_CHUNK


@settings(max_examples=50)
@given(
    st.binary(max_size=5000),
    st.none() | st.lists(st.integers(1, 700), min_size=1, max_size=8),
    st.lists(st.integers(1, 300), max_size=12),
)
def test_any_framing_in_any_split_gives_the_same_body(
    body: bytes, chunk_sizes: list[int] | None, cuts: list[int]
) -> None:
    raw = encode_response(body, chunk_sizes)

    async def dribble(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(2):  # two requests on the one connection
            await read_head(reader)
            start = 0
            for cut in [*cuts, len(raw)]:
                writer.write(raw[start : start + cut])
                await writer.drain()
                await asyncio.sleep(0)
                start += cut
            writer.write(raw[start:])
            await writer.drain()

    async def scenario() -> None:
        async with raw_server(dribble) as port, HttpClient(origin(port)) as client:
            assert (await client.request("GET", "/a")).body == body
            assert (await client.request("GET", "/b")).body == body
            assert client.connections_opened == 1

    asyncio.run(scenario())
