"""`client.streaming` against small asyncio servers that misbehave on purpose."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from client.http import NetworkError, Origin
from client.streaming import BodyLengthError, open_stream
from transport.http import (
    NEED_DATA,
    Data,
    EndOfMessage,
    RequestHead,
    RequestParser,
    encode_chunk,
    write_response_head,
)

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
MIB = 1024 * 1024


@contextlib.asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[Origin]:
    tasks: set[asyncio.Task[None]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    try:
        yield Origin(host="127.0.0.1", port=port)
    finally:
        srv.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await srv.wait_closed()


async def read_request(reader: asyncio.StreamReader) -> tuple[RequestHead, bytes]:
    parser = RequestParser()
    head: RequestHead | None = None
    body = bytearray()
    while True:
        event = parser.next_event()
        if event is NEED_DATA:
            parser.feed(await reader.read(65536))
        elif isinstance(event, RequestHead):
            head = event
        elif isinstance(event, Data):
            body += event.data
        elif isinstance(event, EndOfMessage):
            assert head is not None
            return head, bytes(body)


async def read_head_only(reader: asyncio.StreamReader) -> RequestHead:
    parser = RequestParser()
    while True:
        event = parser.next_event()
        if event is NEED_DATA:
            parser.feed(await reader.read(65536))
        elif isinstance(event, RequestHead):
            return event


def answer(status: int, body: bytes, *extra: tuple[str, str]) -> bytes:
    headers = [("Content-Length", str(len(body))), ("Connection", "close"), *extra]
    return write_response_head(status, headers) + body


async def chunks_of(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def repeated(block: bytes, times: int) -> AsyncIterator[bytes]:
    for _ in range(times):
        yield block


async def echo_digest(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    head, body = await read_request(reader)
    framing = "chunked" if head.chunked else f"length {head.content_length}"
    reply = f"{framing} {len(body)} {hashlib.sha256(body).hexdigest()}".encode()
    writer.write(answer(201, reply))
    await writer.drain()


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_a_streamed_request_body_arrives_whole(declared: bool) -> None:
    data = bytes(range(256)) * 4099  # just over 1 MiB, in odd-sized pieces

    async def scenario() -> bytes:
        async with (
            serving(echo_digest) as origin,
            open_stream(
                origin,
                "POST",
                "/files",
                body=chunks_of(data, 70001),
                content_length=len(data) if declared else None,
                timeout_s=5,
            ) as response,
        ):
            assert response.status == 201
            return await response.read(1000)

    framing = f"length {len(data)}" if declared else "chunked"
    expected = f"{framing} {len(data)} {hashlib.sha256(data).hexdigest()}"
    assert asyncio.run(scenario()).decode() == expected


def test_an_early_answer_stops_the_upload_and_is_read() -> None:
    produced = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal produced
        piece = b"x" * 65536
        while produced < 256 * MIB:
            produced += len(piece)
            yield piece

    async def refuse_at_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head_only(reader)
        writer.write(answer(413, b'{"error":{"code":"too_large","message":"too big"}}'))
        await writer.drain()
        writer.write_eof()
        with contextlib.suppress(OSError):  # read and drop, as the real server lingers
            while await reader.read(65536):
                pass

    async def scenario() -> tuple[int, bytes]:
        async with (
            serving(refuse_at_once) as origin,
            open_stream(
                origin, "POST", "/files", body=endless(), content_length=256 * MIB, timeout_s=5
            ) as response,
        ):
            return response.status, await response.read(1000)

    status, body = asyncio.run(scenario())
    assert status == 413
    assert b"too_large" in body
    assert produced < 256 * MIB


def test_a_response_body_streams_in_pieces() -> None:
    data = bytes(range(256)) * 12288  # 3 MiB

    async def send_file(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(write_response_head(200, [("Content-Length", str(len(data)))]))
        for start in range(0, len(data), 100_000):
            writer.write(data[start : start + 100_000])
            await writer.drain()

    async def scenario() -> list[bytes]:
        async with (
            serving(send_file) as origin,
            open_stream(origin, "GET", "/messages/1/file", timeout_s=5) as response,
        ):
            return [chunk async for chunk in response.chunks()]

    pieces = asyncio.run(scenario())
    assert b"".join(pieces) == data
    assert len(pieces) > 1
    assert max(map(len, pieces)) < len(data)


@settings(max_examples=20, deadline=None)
@given(
    body=st.binary(max_size=3000),
    cuts=st.lists(st.integers(min_value=0, max_value=3000), max_size=6),
)
def test_a_chunked_response_reassembles_however_it_is_cut(body: bytes, cuts: list[int]) -> None:
    points = sorted({0, len(body), *(c for c in cuts if c <= len(body))})
    pieces = [body[a:b] for a, b in itertools.pairwise(points)]
    wire = b"".join(encode_chunk(p) for p in pieces) + b"0\r\n\r\n"

    async def send(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(write_response_head(200, [("Transfer-Encoding", "chunked")]))
        for start in range(0, len(wire), 7):
            writer.write(wire[start : start + 7])
            await writer.drain()

    async def scenario() -> bytes:
        async with (
            serving(send) as origin,
            open_stream(origin, "GET", "/x", timeout_s=5) as response,
        ):
            return await response.read(10_000)

    assert asyncio.run(scenario()) == body


def test_a_connection_closed_mid_body_is_a_network_error() -> None:
    async def cut_short(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(write_response_head(200, [("Content-Length", "1000")]) + b"y" * 10)
        await writer.drain()

    async def scenario() -> None:
        async with (
            serving(cut_short) as origin,
            open_stream(origin, "GET", "/x", timeout_s=5) as response,
        ):
            await response.read(10_000)

    with pytest.raises(NetworkError, match="mid-response"):
        asyncio.run(scenario())


def test_a_stalled_body_fails_after_the_step_deadline() -> None:
    async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(write_response_head(200, [("Content-Length", "1000")]) + b"y" * 10)
        await writer.drain()
        await asyncio.sleep(30)

    async def scenario() -> None:
        async with (
            serving(stall) as origin,
            open_stream(origin, "GET", "/x", timeout_s=0.3) as response,
        ):
            await response.read(10_000)

    with pytest.raises(NetworkError, match="in time"):
        asyncio.run(scenario())


@pytest.mark.parametrize("actual", [5, 15], ids=["short", "long"])
def test_a_body_that_is_not_its_declared_length_fails(actual: int) -> None:
    async def scenario() -> None:
        async with (
            serving(echo_digest) as origin,
            open_stream(
                origin,
                "POST",
                "/files",
                body=chunks_of(b"z" * actual, 4),
                content_length=10,
                timeout_s=2,
            ),
        ):
            pass

    with pytest.raises(BodyLengthError):
        asyncio.run(scenario())


def test_an_unreachable_server_is_a_network_error() -> None:
    async def scenario() -> None:
        async with serving(echo_digest) as origin:
            pass  # closed again: nothing listens on that port now
        async with open_stream(origin, "GET", "/x", timeout_s=2):
            pass

    with pytest.raises(NetworkError, match="cannot reach"):
        asyncio.run(scenario())


def test_no_answer_after_the_body_fails_after_the_step_deadline() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(30)

    async def scenario() -> None:
        async with (
            serving(silent) as origin,
            open_stream(origin, "POST", "/files", body=chunks_of(b"a" * 1000, 100), timeout_s=0.3),
        ):
            pass

    with pytest.raises(NetworkError, match="in time"):
        asyncio.run(scenario())


def test_a_server_that_stops_reading_the_body_fails_the_upload() -> None:
    async def deaf(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head_only(reader)
        await asyncio.sleep(30)  # reads nothing more: the client's writes stall

    async def scenario() -> None:
        async with (
            serving(deaf) as origin,
            open_stream(
                origin,
                "POST",
                "/files",
                body=repeated(b"b" * MIB, 64),
                content_length=64 * MIB,
                timeout_s=0.3,
            ),
        ):
            pass

    with pytest.raises(NetworkError, match="in time"):
        asyncio.run(scenario())


@settings(max_examples=25, deadline=None)
@given(
    pieces=st.lists(st.binary(max_size=2000), max_size=8),
    declared=st.booleans(),
)
def test_a_request_body_arrives_whole_however_it_is_cut(
    pieces: list[bytes], declared: bool
) -> None:
    data = b"".join(pieces)

    async def given_pieces() -> AsyncIterator[bytes]:
        for piece in pieces:
            yield piece

    async def scenario() -> bytes:
        async with (
            serving(echo_digest) as origin,
            open_stream(
                origin,
                "POST",
                "/files",
                body=given_pieces(),
                content_length=len(data) if declared else None,
                timeout_s=5,
            ) as response,
        ):
            return await response.read(1000)

    framing = f"length {len(data)}" if declared else "chunked"
    assert asyncio.run(scenario()).decode() == (
        f"{framing} {len(data)} {hashlib.sha256(data).hexdigest()}"
    )
