"""Clients that try to hold the server without an account: silent sockets, too many
connections from one address, readers that never read, uploads over the limit."""

from __future__ import annotations

import asyncio
import contextlib
import urllib.error
import urllib.request
from collections.abc import AsyncIterator

import pytest
from attrs import evolve

from tests.transport.server.support import (
    BIG_CHUNK_BYTES,
    FAST_LIMITS,
    exchange,
    running,
    statuses,
)

H = b"Host: x\r\n"
GET_JSON = b"GET /json HTTP/1.1\r\n" + H + b"\r\n"
HANG_GUARD_S = 5.0


class Client:
    """One raw connection, optionally from another loopback address."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int, source: str = "127.0.0.1") -> Client:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
        return cls(reader, writer)

    async def request(self, data: bytes = GET_JSON) -> bytes:
        """Send `data` and read one JSON answer (its body ends the read)."""
        self.writer.write(data)
        async with asyncio.timeout(HANG_GUARD_S):
            return await self.reader.readuntil(b"}")

    async def until_closed(self) -> bytes:
        """Everything the server sends until it closes the connection."""
        async with asyncio.timeout(HANG_GUARD_S):
            return await self.reader.read()

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


@contextlib.asynccontextmanager
async def clients() -> AsyncIterator[list[Client]]:
    """A list to open clients into; every one is closed at the end."""
    opened: list[Client] = []
    try:
        yield opened
    finally:
        for client in opened:
            await client.close()


def test_a_silent_connection_is_closed_at_the_header_deadline_not_the_idle_one() -> None:
    # A new connection has no idle phase: its first head is due header_timeout_s
    # after the accept. 10,000 silent sockets used to hold every slot for 75 s.
    limits = evolve(FAST_LIMITS, keepalive_timeout_s=60.0)

    async def scenario() -> None:
        async with running(limits) as (server, _), clients() as opened:
            opened.append(silent := await Client.open(server.port))
            assert await silent.until_closed() == b""  # closed quietly: nothing to answer
            assert server.open_connections == 0

    asyncio.run(scenario())


def test_at_the_cap_the_oldest_idle_connection_makes_room_never_one_mid_request() -> None:
    async def scenario() -> None:
        limits = evolve(FAST_LIMITS, max_connections=3, header_timeout_s=30.0)
        async with running(limits) as (server, _), clients() as opened:
            opened.append(kept_alive := await Client.open(server.port))
            assert statuses(await kept_alive.request()) == [200]  # then idle, the oldest
            opened.append(silent := await Client.open(server.port))  # idle since its accept
            opened.append(halfway := await Client.open(server.port))
            halfway.writer.write(b"GET /json HTTP/1.1\r\n")  # mid-request from now on
            await halfway.writer.drain()
            await asyncio.sleep(0.05)  # the server has read it

            opened.append(first := await Client.open(server.port))
            assert statuses(await first.request()) == [200]
            assert await kept_alive.until_closed() == b""  # the oldest idle made room
            opened.append(second := await Client.open(server.port))
            assert statuses(await second.request()) == [200]
            assert await silent.until_closed() == b""

            assert statuses(await halfway.request(H + b"\r\n")) == [200]  # never evicted

    asyncio.run(scenario())


def test_at_the_cap_with_nobody_idle_a_new_connection_gets_503_with_retry_after() -> None:
    async def scenario() -> None:
        limits = evolve(FAST_LIMITS, max_connections=2, header_timeout_s=30.0)
        async with running(limits) as (server, _), clients() as opened:
            for _ in range(2):
                opened.append(busy := await Client.open(server.port))
                busy.writer.write(b"GET /json HTTP/1.1\r\n")  # mid-request
            await asyncio.sleep(0.05)
            raw = await exchange(server.port, GET_JSON)
            assert statuses(raw) == [503]
            assert b"Retry-After: 1\r\n" in raw
            assert b"Connection: close\r\n" in raw
            assert b'"code":"unavailable"' in raw

    asyncio.run(scenario())


def test_one_address_cannot_take_more_than_its_share_of_connections() -> None:
    async def scenario() -> None:
        limits = evolve(FAST_LIMITS, max_connections_per_peer=2)
        async with running(limits) as (server, _), clients() as opened:
            for _ in range(2):
                opened.append(client := await Client.open(server.port))
                assert statuses(await client.request()) == [200]
            opened.append(third := await Client.open(server.port))
            third.writer.write(GET_JSON)
            refused = await third.until_closed()
            assert statuses(refused) == [503]
            assert b"Retry-After: 1\r\n" in refused
            assert b"Connection: close\r\n" in refused

            opened.append(other := await Client.open(server.port, source="127.0.0.2"))
            assert statuses(await other.request()) == [200]  # another address: its own share

            await opened[0].close()
            async with asyncio.timeout(HANG_GUARD_S):  # the server sees the close
                while server.open_connections > 2:
                    await asyncio.sleep(0.01)
            opened.append(again := await Client.open(server.port))
            assert statuses(await again.request()) == [200]  # the share is free again

    asyncio.run(scenario())


@pytest.mark.parametrize("query", ["chunks=32", "chunks=32&whole"], ids=["stream", "whole"])
def test_a_client_that_never_reads_a_large_answer_is_reset_and_let_go(query: str) -> None:
    # 2 MiB: the kernel grew its buffers to take all of it, write_timeout_s never
    # fired, and the kernel held it for the idle timeout and after the close.
    limits = evolve(
        FAST_LIMITS,
        keepalive_timeout_s=60.0,
        response_grace_s=0.2,
        response_min_rate_bytes_per_s=1024 * 1024,
    )

    async def scenario() -> None:
        async with running(limits) as (server, _):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port, limit=1024)
            writer.write(f"GET /big?{query} HTTP/1.1\r\n".encode() + H + b"\r\n")
            async with asyncio.timeout(HANG_GUARD_S):
                while server.open_connections:  # the server let go
                    await asyncio.sleep(0.02)
            received = 0
            with contextlib.suppress(ConnectionResetError):
                async with asyncio.timeout(HANG_GUARD_S):
                    while chunk := await reader.read(65536):
                        received += len(chunk)
            assert received < 32 * BIG_CHUNK_BYTES  # cut off, not parked in the kernel
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    asyncio.run(scenario())


def _post_with_urllib(port: int, body: bytes) -> tuple[int, bytes]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/echo", body, {"Content-Type": "text/plain"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=HANG_GUARD_S) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, exc.read()
        finally:
            exc.close()


def test_urllib_sending_a_whole_body_over_the_limit_gets_the_413() -> None:
    # urllib sends the whole body before it reads. The server used to read 1 MiB of
    # it after the 413 and close: the client got a broken pipe, never the answer.
    async def scenario() -> None:
        async with running() as (server, calls):
            status, answer = await asyncio.to_thread(
                _post_with_urllib, server.port, b"x" * (20 * 1024 * 1024)
            )
            assert status == 413
            assert b'"code":"too_large"' in answer
            assert calls.smuggled == 0

    asyncio.run(scenario())


def test_the_linger_for_a_declared_body_is_capped() -> None:
    # Declaring 1 GiB and sending it buys no more than linger_body_max_bytes of reading.
    limits = evolve(
        FAST_LIMITS, linger_max_bytes=1024, linger_body_max_bytes=64 * 1024, linger_s=30.0
    )

    async def scenario() -> None:
        async with running(limits) as (server, _):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: 1073741824\r\n\r\n")
            assert statuses(await reader.readuntil(b"}}")) == [413]
            sent = 0
            with contextlib.suppress(ConnectionError):  # the server closed: a reset
                async with asyncio.timeout(HANG_GUARD_S):
                    while True:
                        writer.write(b"x" * 65536)
                        await writer.drain()
                        sent += 65536
            assert sent < 64 * 1024 * 1024  # the cap and the socket buffers, not 1 GiB
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    asyncio.run(scenario())


def test_at_shutdown_a_request_on_an_idle_connection_is_answered_then_closed() -> None:
    # The shutdown used to close idle keep-alive connections at once, and a request
    # already on its way met a closed socket: a reset.
    limits = evolve(FAST_LIMITS, shutdown_idle_s=1.0, shutdown_grace_s=3.0)

    async def scenario() -> None:
        async with running(limits) as (server, _), clients() as opened:
            opened.append(sender := await Client.open(server.port))
            opened.append(quiet := await Client.open(server.port))
            for client in (sender, quiet):
                assert statuses(await client.request()) == [200]  # then idle, kept alive
            stopping = asyncio.create_task(server.shutdown())
            await asyncio.sleep(0)  # the shutdown has begun
            answer = await sender.request()
            assert statuses(answer) == [200]
            assert b"Connection: close\r\n" in answer
            assert await sender.until_closed() == b""
            assert await quiet.until_closed() == b""  # half-closed: EOF, not a reset
            async with asyncio.timeout(HANG_GUARD_S):
                await stopping
            assert server.open_connections == 0

    asyncio.run(scenario())
