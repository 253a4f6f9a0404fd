"""A small routing table of test handlers and helpers to talk to a real server."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from attrs import define, field

from transport.server import (
    HttpLimits,
    HttpServer,
    Request,
    Response,
    Router,
    empty,
    error_response,
    json_response,
    read_json,
    stream_response,
    wait_for_event,
)

_STATUS = re.compile(rb"HTTP/1\.1 ([0-9]{3}) ")
# Deadlines short enough that slow-client tests take a fraction of a second.
FAST_LIMITS = HttpLimits(
    header_timeout_s=0.3,
    body_grace_s=0.3,
    body_min_rate_bytes_per_s=1000,
    keepalive_timeout_s=1.0,
    write_timeout_s=1.0,
    shutdown_grace_s=2.0,
    linger_s=0.2,
    deadline_resolution_s=0.02,
)
SMALL_BODY_BYTES = 1000
# GET /big: 8 MiB, far more than the socket buffers and the transport's high-water mark
# (?chunks=N: N pieces of 64 KiB instead; ?whole: one body, not a stream).
BIG_CHUNKS = 128
BIG_CHUNK_BYTES = 64 * 1024


@define
class Calls:
    """What the test handlers saw."""

    smuggled: int = 0
    poll_cancelled: int = 0
    flood_closed: int = 0
    poll_started: asyncio.Event = field(factory=asyncio.Event)
    uploads: list[int] = field(factory=list)


def make_router(calls: Calls) -> Router:
    """Echo, JSON, slow, failing, long-poll, large-body, streaming and in-task handlers."""

    async def echo(request: Request) -> Response:
        return Response(
            status=200, headers=(("Content-Type", "text/plain"),), body=await request.body()
        )

    async def hello(request: Request) -> Response:
        return json_response(200, {"hello": "world"})

    async def room(request: Request) -> Response:
        return json_response(200, {"room": request.path_params["room"], "query": request.query})

    async def slow(request: Request) -> Response:
        await asyncio.sleep(0.2)
        return json_response(200, {"slow": True})

    async def fail(request: Request) -> Response:
        raise RuntimeError("handler exploded")

    async def smuggled(request: Request) -> Response:
        calls.smuggled += 1
        return json_response(200, {"smuggled": True})

    async def poll(request: Request) -> Response:
        calls.poll_started.set()
        timeout_s = float(request.query_one("timeout", "30") or 30)
        try:
            fired = await wait_for_event(request, asyncio.Event(), timeout_s=timeout_s)
        except asyncio.CancelledError:
            calls.poll_cancelled += 1
            raise
        return json_response(200, {"fired": fired})

    async def upload(request: Request) -> Response:
        if request.headers.get("authorization") != "Bearer ok":
            return error_response(401, "unauthorized", "no token")
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
        calls.uploads.append(size)
        return json_response(201, {"size": size, "declared": request.content_length})

    async def post_json(request: Request) -> Response:
        return json_response(200, await read_json(request))

    async def download(request: Request) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            for i in range(3):
                yield b"part%d;" % i

        sized = request.query_one("sized") is not None
        return stream_response(200, chunks(), content_length=18 if sized else None)

    async def flood(request: Request) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            try:
                while True:
                    yield b"x" * 65536
            finally:
                calls.flood_closed += 1

        return stream_response(200, chunks())

    async def big(request: Request) -> Response:
        count = int(request.query_one("chunks") or BIG_CHUNKS)
        pieces = [bytes([i % 251]) * BIG_CHUNK_BYTES for i in range(count)]
        if request.query_one("whole") is not None:
            return Response(status=200, body=b"".join(pieces))

        async def chunks() -> AsyncIterator[bytes]:
            for piece in pieces:
                yield piece

        return stream_response(200, chunks(), content_length=count * BIG_CHUNK_BYTES)

    async def nothing(request: Request) -> Response:
        return empty()

    async def in_task(request: Request) -> Response:
        # asyncio.timeout() needs the handler to run inside a task (3.11).
        async with asyncio.timeout(1):
            await asyncio.sleep(0)
        return json_response(200, {"task": asyncio.current_task() is not None})

    async def inject(request: Request) -> Response:
        return json_response(200, {}, headers=(("X-Evil", "a\r\nSet-Cookie: x=1"),))

    router = Router()
    router.add("POST", "/echo", echo, max_body_bytes=SMALL_BODY_BYTES)
    router.add("GET", "/json", hello)
    router.add("DELETE", "/json", nothing)
    router.add("GET", "/rooms/{room}", room)
    router.add("GET", "/slow", slow)
    router.add("GET", "/fail", fail)
    router.add("GET", "/smuggled", smuggled)
    router.add("GET", "/poll", poll, cancel_on_disconnect=True)
    router.add("PUT", "/upload", upload, max_body_bytes=1024 * 1024)
    router.add("POST", "/json", post_json)
    router.add("GET", "/download", download)
    router.add("GET", "/inject", inject)
    router.add("GET", "/in-task", in_task)
    router.add("GET", "/big", big)
    router.add("GET", "/flood", flood)
    router.add("POST", "/join/{token}", nothing)
    router.add("DELETE", "/rooms/{room}/links/{token}", nothing)
    return router


@asynccontextmanager
async def running(
    limits: HttpLimits = FAST_LIMITS, calls: Calls | None = None
) -> AsyncIterator[tuple[HttpServer, Calls]]:
    """Serve the test router on 127.0.0.1, port 0; shut down afterwards."""
    calls = calls or Calls()
    server = HttpServer(make_router(calls), limits)
    await server.start("127.0.0.1", 0)
    try:
        yield server, calls
    finally:
        await server.shutdown()


async def exchange(port: int, data: bytes, *, timeout_s: float = 5.0) -> bytes:
    """Send `data` on a new connection and read until the server closes it.

    Raises TimeoutError when the server keeps the connection open.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        async with asyncio.timeout(timeout_s):
            return await reader.read(-1)
    finally:
        writer.close()
        await writer.wait_closed()


def statuses(raw: bytes) -> list[int]:
    """The status codes of every final response in `raw`, in order."""
    return [int(m[1]) for m in _STATUS.finditer(raw) if m[1] != b"100"]
