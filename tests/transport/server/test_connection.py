"""The connection protocol: heads in pieces, half-closed clients, bounded input, handler
tasks, cancellation at shutdown."""

from __future__ import annotations

import asyncio
import itertools
import re

from attrs import evolve
from hypothesis import given
from hypothesis import strategies as st

from tests.transport.server.support import (
    BIG_CHUNK_BYTES,
    BIG_CHUNKS,
    FAST_LIMITS,
    Calls,
    exchange,
    make_router,
    running,
    statuses,
)
from transport.server import HttpServer
from transport.server.connection import Connection

H = b"Host: x\r\n"
# asyncio's socket transport reads at most this much per recv() (Python 3.11).
TRANSPORT_READ_BYTES = 256 * 1024


def test_a_head_arriving_in_pieces_is_served_once_complete() -> None:
    async def scenario() -> None:
        async with running() as (server, _):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            request = b"GET /rooms/r1?x=1 HTTP/1.1\r\n" + H + b"X-A: 1\r\n\r\n"
            for piece in (request[:3], request[3:22], request[22:-1], request[-1:]):
                writer.write(piece)
                await writer.drain()
                await asyncio.sleep(0.01)
            async with asyncio.timeout(5):
                answer = await reader.readuntil(b"}}")
            assert statuses(answer) == [200]
            assert answer.endswith(b'{"room":"r1","query":{"x":["1"]}}')
            writer.close()
            await writer.wait_closed()

    asyncio.run(scenario())


def test_a_client_that_half_closes_after_its_requests_gets_every_answer() -> None:
    async def scenario() -> None:
        async with running() as (server, calls):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(
                b"GET /slow HTTP/1.1\r\n" + H + b"\r\n"
                b"PUT /upload HTTP/1.1\r\n" + H + b"Authorization: Bearer ok\r\n"
                b"Content-Length: 3\r\n\r\nabc"
            )
            writer.write_eof()
            async with asyncio.timeout(5):
                raw = await reader.read()
            assert statuses(raw) == [200, 201]
            assert calls.uploads == [3]
            writer.close()
            await writer.wait_closed()

    asyncio.run(scenario())


def test_a_body_cut_short_by_a_half_close_is_a_400() -> None:
    async def scenario() -> None:
        async with running() as (server, calls):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(
                b"PUT /upload HTTP/1.1\r\n" + H + b"Authorization: Bearer ok\r\n"
                b"Content-Length: 10\r\n\r\nabc"
            )
            writer.write_eof()
            async with asyncio.timeout(5):
                raw = await reader.read()
            assert statuses(raw) == [400]
            assert b"Connection: close" in raw
            assert calls.uploads == []
            writer.close()
            await writer.wait_closed()

    asyncio.run(scenario())


def test_handlers_run_inside_a_task() -> None:
    async def scenario() -> None:
        async with running() as (server, _):
            raw = await exchange(
                server.port,
                b"GET /in-task HTTP/1.1\r\n" + H + b"\r\n"
                b"GET /in-task HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n",
            )
            assert statuses(raw) == [200, 200]
            assert raw.count(b'{"task":true}') == 2

    asyncio.run(scenario())


def _buffered_bytes(server: HttpServer) -> int:
    connections = list(server._connections)  # the bound is internal state
    return max((c.parser.buffered_bytes for c in connections), default=0)


def test_bytes_pipelined_behind_a_busy_handler_are_bounded() -> None:
    async def scenario() -> None:
        async with running() as (server, _):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            garbage = b"X" * (900 * 1024)  # no line end: the next "head" is a 414
            writer.write(b"GET /slow HTTP/1.1\r\n" + H + b"\r\n" + garbage)
            sending = asyncio.ensure_future(writer.drain())
            most = 0
            for _ in range(15):  # while /slow sleeps 0.2 s
                await asyncio.sleep(0.01)
                most = max(most, _buffered_bytes(server))
            assert 0 < most <= FAST_LIMITS.read_chunk_bytes + TRANSPORT_READ_BYTES
            async with asyncio.timeout(5):
                raw = await reader.read()
                await sending
            assert statuses(raw) == [200, 414]
            writer.close()
            await writer.wait_closed()

    asyncio.run(scenario())


def test_shutdown_past_the_grace_cancels_requests_and_closes_everything() -> None:
    async def scenario() -> None:
        limits = evolve(FAST_LIMITS, shutdown_grace_s=0.05)
        async with running(limits) as (server, _):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(b"GET /slow HTTP/1.1\r\n" + H + b"\r\n")  # sleeps 0.2 s
            await writer.drain()
            await asyncio.sleep(0.05)
            async with asyncio.timeout(2):
                await server.shutdown()
            assert server.open_connections == 0
            async with asyncio.timeout(2):
                assert await reader.read() == b""  # cancelled: no answer, closed
            writer.close()
            await writer.wait_closed()

    asyncio.run(scenario())


class _Transport(asyncio.Transport):
    """Just enough of a socket transport for a connection without a socket."""

    def __init__(self, protocol: asyncio.Protocol) -> None:
        super().__init__()
        self.protocol = protocol
        self.closed = False
        self.written = bytearray()

    def get_extra_info(self, name: str, default: object = None) -> object:
        return ("127.0.0.1", 1) if name == "peername" else default

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def get_write_buffer_size(self) -> int:
        return 0  # everything "sent" at once

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def abort(self) -> None:
        if not self.closed:
            self.closed = True
            asyncio.get_running_loop().call_soon(self.protocol.connection_lost, None)

    close = abort


def test_a_request_cancelled_before_its_task_starts_still_finishes_the_connection() -> None:
    async def scenario() -> None:
        server = HttpServer(make_router(Calls()), FAST_LIMITS)
        connection = Connection(server)
        connection.connection_made(_Transport(connection))
        connection.data_received(b"GET /json HTTP/1.1\r\n" + H + b"\r\n")  # starts a task
        connection.cancel()  # before that task's first step
        async with asyncio.timeout(2):
            await connection.finished
        assert server.open_connections == 0

    asyncio.run(scenario())


def test_a_large_response_to_a_slow_reader_arrives_whole() -> None:
    # The writer must pause (pause_writing) and go on when the client catches up
    # (resume_writing), without tripping the write timeout while data flows.
    async def scenario() -> None:
        async with running() as (server, _):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port, limit=1024)
            writer.write(b"GET /big HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n")
            head = await reader.readuntil(b"\r\n\r\n")
            assert statuses(head) == [200]
            received = bytearray()
            async with asyncio.timeout(20):
                while chunk := await reader.read(256 * 1024):
                    received += chunk
                    if len(received) < 2 * 1024 * 1024:
                        await asyncio.sleep(0.01)  # slow at first: the server's buffer fills
            expected = b"".join(bytes([i % 251]) * BIG_CHUNK_BYTES for i in range(BIG_CHUNKS))
            assert received == expected
            writer.close()
            await writer.wait_closed()

    asyncio.run(scenario())


PIPELINE = (
    b"GET /json HTTP/1.1\r\n" + H + b"\r\n"
    b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: 5\r\n\r\nhello"
    b"PUT /upload HTTP/1.1\r\n" + H + b"Authorization: Bearer ok\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n3;x=1\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n"
    b"\r\nGET /rooms/a?b=1 HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n"
    b"GET /smuggled HTTP/1.1\r\n" + H + b"\r\n"
)
PIPELINE_STATUSES = [200, 200, 201, 200]
_DATE = re.compile(rb"\r\nDate: [^\r]*")


async def _serve_pieces(pieces: list[bytes]) -> bytes:
    calls = Calls()
    server = HttpServer(make_router(calls), FAST_LIMITS)
    connection = Connection(server)
    transport = _Transport(connection)
    connection.connection_made(transport)
    for piece in pieces:
        connection.data_received(piece)
        await asyncio.sleep(0)
    async with asyncio.timeout(2):  # every answer, before the client closes anything
        while len(statuses(bytes(transport.written))) < len(PIPELINE_STATUSES):
            await asyncio.sleep(0.001)
    connection.eof_received()  # the client half-closes: the linger ends at once
    async with asyncio.timeout(2):
        await connection.finished  # closed after the request with Connection: close
    assert calls.smuggled == 0
    return _DATE.sub(b"", bytes(transport.written))


@given(st.lists(st.integers(0, len(PIPELINE)), max_size=12))
def test_answers_do_not_depend_on_how_the_bytes_arrive(cuts: list[int]) -> None:
    bounds = [0, *sorted(cuts), len(PIPELINE)]
    pieces = [PIPELINE[a:b] for a, b in itertools.pairwise(bounds) if b > a]
    split = asyncio.run(_serve_pieces(pieces))
    assert split == asyncio.run(_serve_pieces([PIPELINE]))
    assert statuses(split) == PIPELINE_STATUSES
    assert split.endswith(b'{"room":"a","query":{"b":["1"]}}')


def test_answers_to_bytes_arriving_one_at_a_time() -> None:
    one_by_one = [PIPELINE[i : i + 1] for i in range(len(PIPELINE))]
    assert asyncio.run(_serve_pieces(one_by_one)) == asyncio.run(_serve_pieces([PIPELINE]))
