"""The real server with real clients: keep-alive, pipelining, deadlines, caps, shutdown."""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import os
import re
import shutil
import signal

import pytest
from attrs import evolve

from tests.transport.server.support import FAST_LIMITS, exchange, running, statuses
from transport.server import HttpServer, Router, serve_until_signal

H = b"Host: x\r\n"
CLOSE = b"Connection: close\r\n\r\n"
ACCESS_LINE = re.compile(r"\S+ \S+ [0-9]{3} [0-9]+ [0-9.]+ms 127\.0\.0\.1:[0-9]+")


def body_of(raw: bytes) -> bytes:
    return raw.split(b"\r\n\r\n", 1)[1]


def test_pipelined_requests_are_answered_in_order() -> None:
    async def scenario() -> None:
        async with running() as (server, _):
            raw = await exchange(
                server.port,
                b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: 3\r\n\r\none"
                b"GET /rooms/%D0%BA%D0%BE%D1%82?a=1&a=2 HTTP/1.1\r\n" + H + b"\r\n"
                b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
                b"3;ext=1\r\ntwo\r\n0\r\nX-T: 1\r\n\r\n"
                b"GET /json HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n"
                b"GET /smuggled HTTP/1.1\r\n" + H + b"\r\n",
            )
            assert statuses(raw) == [200, 200, 200, 200]
            assert raw.index(b"one") < raw.index("кот".encode()) < raw.index(b"two")
            assert b'"query":{"a":["1","2"]}' in raw
            assert raw.count(b"Connection: close") == 1

    asyncio.run(scenario())


def test_http_client_reuses_one_connection() -> None:
    def client(port: int) -> list[tuple[int, bytes]]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            results = []
            conn.request("GET", "/json")
            first = conn.getresponse()
            results.append((first.status, first.read()))
            sock = conn.sock
            conn.request("POST", "/echo", body=b"hello", headers={"Content-Type": "text/plain"})
            second = conn.getresponse()
            results.append((second.status, second.read()))
            assert conn.sock is sock  # the same socket: keep-alive
            conn.request("HEAD", "/json")
            head = conn.getresponse()
            results.append((head.status, head.read()))
            assert head.getheader("Content-Length") == str(len(results[0][1]))
            return results
        finally:
            conn.close()

    async def scenario() -> None:
        async with running() as (server, _):
            results = await asyncio.to_thread(client, server.port)
            assert results == [(200, b'{"hello":"world"}'), (200, b"hello"), (200, b"")]

    asyncio.run(scenario())


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_keeps_the_connection_alive() -> None:
    async def scenario() -> None:
        async with running() as (server, _):
            url = f"http://127.0.0.1:{server.port}/json"
            proc = await asyncio.create_subprocess_exec(
                "curl", "-sv", url, url,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out, err = await proc.communicate()
            assert proc.returncode == 0
            assert out == b'{"hello":"world"}' * 2
            assert b"Re-using existing connection" in err or b"Reusing existing" in err

    asyncio.run(scenario())


def test_routing_errors_keep_the_connection() -> None:
    async def scenario() -> None:
        async with running() as (server, _):
            raw = await exchange(
                server.port,
                b"GET /nowhere HTTP/1.1\r\n" + H + b"\r\n"
                b"PUT /json HTTP/1.1\r\n" + H + b"Content-Length: 0\r\n\r\n"
                b"BREW /json HTTP/1.1\r\n" + H + b"\r\n"
                b"GET /json HTTP/1.1\r\n" + H + b"Expect: tea\r\n\r\n"
                b"POST /json HTTP/1.1\r\n" + H + b"Content-Length: 2\r\n\r\n{}"
                b"POST /json HTTP/1.1\r\n" + H + b"Content-Type: application/json\r\n"
                b"Content-Length: 2\r\n\r\n[]"
                b"POST /json HTTP/1.1\r\n" + H + b"Content-Type: application/json\r\n"
                b"Content-Length: 1\r\n\r\n{"
                b"POST /json HTTP/1.1\r\n"
                + H
                + b"Content-Type: application/json; charset=utf-8\r\n"
                b'Content-Length: 10\r\nConnection: close\r\n\r\n{"a":"\xd0\xb6"}',
            )
            assert statuses(raw) == [404, 405, 501, 417, 415, 400, 400, 200]
            assert b"Allow: DELETE, GET, HEAD, POST\r\n" in raw
            for code in (b"not_found", b"method_not_allowed", b"not_implemented"):
                assert b'"code":"' + code + b'"' in raw
            assert b'"code":"unsupported_media_type"' in raw
            assert raw.count(b'"code":"bad_json"') == 2
            assert raw.endswith('{"a":"ж"}'.encode())

    asyncio.run(scenario())


def test_handler_exception_is_500_and_logged_and_the_server_survives(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario() -> None:
        async with running() as (server, _):
            raw = await exchange(
                server.port,
                b"GET /fail?token=secret HTTP/1.1\r\n" + H + b"\r\n"
                b"GET /json HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n",
            )
            assert statuses(raw) == [500, 200]
            assert b'{"error":{"code":"internal","message":"internal server error"}}' in raw
            assert b"Traceback" not in raw

    with caplog.at_level(logging.INFO, logger="transport.http"):
        asyncio.run(scenario())
    failures = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(failures) == 1
    assert failures[0].exc_info is not None
    access = [r.getMessage() for r in caplog.records if r.getMessage().startswith("GET /")]
    assert access[0].startswith("GET /fail 500 ")
    assert "secret" not in caplog.text


def test_response_header_injection_becomes_500() -> None:
    async def scenario() -> None:
        async with running() as (server, _):
            raw = await exchange(
                server.port, b"GET /inject HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n"
            )
            assert statuses(raw) == [500]
            assert b"Set-Cookie" not in raw

    asyncio.run(scenario())


def test_head_gets_get_headers_without_body_and_204_has_no_length() -> None:
    async def scenario() -> None:
        async with running() as (server, _):
            raw = await exchange(
                server.port,
                b"HEAD /json HTTP/1.1\r\n" + H + b"\r\n"
                b"DELETE /json HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n",
            )
            head, rest = raw.split(b"\r\n\r\n", 1)
            assert b"Content-Length: 17" in head
            assert b"Content-Type: application/json; charset=utf-8" in head
            assert b"Date: " in head
            assert rest.startswith(b"HTTP/1.1 204 No Content\r\n")
            assert b"Content-Length" not in rest

    asyncio.run(scenario())


def test_streamed_downloads_are_chunked_or_sized() -> None:
    async def scenario() -> None:
        async with running() as (server, _):
            raw = await exchange(
                server.port,
                b"GET /download HTTP/1.1\r\n" + H + b"\r\n"
                b"GET /download?sized=1 HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n",
            )
            first, second = raw.split(b"HTTP/1.1 200 OK")[1:]
            assert b"Transfer-Encoding: chunked" in first
            assert b"Content-Length" not in first
            assert first.endswith(b"\r\n\r\n6\r\npart0;\r\n6\r\npart1;\r\n6\r\npart2;\r\n0\r\n\r\n")
            assert b"Content-Length: 18" in second
            assert second.endswith(b"\r\n\r\npart0;part1;part2;")

    asyncio.run(scenario())


def test_expect_continue_is_sent_only_when_the_body_is_read() -> None:
    async def scenario() -> None:
        async with running() as (server, calls):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(
                b"PUT /upload HTTP/1.1\r\n" + H + b"Expect: 100-continue\r\n"
                b"Content-Length: 5000\r\n\r\n"
            )
            rejected = await reader.readuntil(b"}}")
            assert rejected.startswith(b"HTTP/1.1 401 ")
            assert b"Connection: close" in rejected
            assert await reader.read() == b""
            writer.close()
            await writer.wait_closed()

            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(
                b"PUT /upload HTTP/1.1\r\n" + H + b"Authorization: Bearer ok\r\n"
                b"Expect: 100-continue\r\nContent-Length: 5000\r\n\r\n"
            )
            assert await reader.readuntil(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
            writer.write(b"z" * 5000)
            accepted = await reader.readuntil(b"}")
            assert accepted.startswith(b"HTTP/1.1 201 ")
            assert calls.uploads == [5000]
            writer.close()
            await writer.wait_closed()

    asyncio.run(scenario())


def test_http_1_0_closes_unless_keep_alive() -> None:
    async def scenario() -> None:
        async with running() as (server, _):
            raw = await exchange(
                server.port,
                b"GET /json HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                b"GET /json HTTP/1.0\r\n\r\n"
                b"GET /smuggled HTTP/1.0\r\n\r\n",
            )
            assert statuses(raw) == [200, 200]
            assert b"Connection: keep-alive" in raw
            assert raw.count(b"Connection: close") == 1

    asyncio.run(scenario())


def test_requests_per_connection_are_capped() -> None:
    async def scenario() -> None:
        async with running(evolve(FAST_LIMITS, max_requests_per_connection=2)) as (server, _):
            raw = await exchange(server.port, (b"GET /json HTTP/1.1\r\n" + H + b"\r\n") * 3)
            assert statuses(raw) == [200, 200]
            assert raw.count(b"Connection: close") == 1

    asyncio.run(scenario())


@pytest.mark.parametrize(
    "partial",
    [b"GET /json HTTP/1.1\r\n", b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: 10\r\n\r\nab"],
    ids=["slow-header", "slow-body"],
)
def test_slow_clients_get_408_and_are_closed(partial: bytes) -> None:
    async def scenario() -> None:
        async with running() as (server, _):
            raw = await exchange(server.port, partial)
            assert statuses(raw) == [408]
            assert b'"code":"timeout"' in raw

    asyncio.run(scenario())


def test_trickling_header_bytes_does_not_extend_the_deadline() -> None:
    async def scenario() -> None:
        async with running() as (server, _):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            line = b"GET /json HTTP/1.1\r\nX-Slow: " + b"a" * 100
            raw = b""
            for byte in line:  # one byte per 20 ms: 2.4 s in all, far past the 0.3 s deadline
                try:
                    writer.write(bytes([byte]))
                    await writer.drain()
                except ConnectionError:
                    break
                await asyncio.sleep(0.02)
                if reader.at_eof() or reader._buffer:  # type: ignore[attr-defined]
                    break
            async with asyncio.timeout(5):
                raw = await reader.read()
            assert statuses(raw) == [408]
            writer.close()
            await writer.wait_closed()

    asyncio.run(scenario())


def test_idle_keep_alive_connection_is_closed_quietly() -> None:
    async def scenario() -> None:
        async with running(evolve(FAST_LIMITS, keepalive_timeout_s=0.2)) as (server, _):
            raw = await exchange(server.port, b"GET /json HTTP/1.1\r\n" + H + b"\r\n")
            assert statuses(raw) == [200]
            assert b"Connection: close" not in raw

    asyncio.run(scenario())


def test_long_poll_is_cancelled_when_the_client_goes_away() -> None:
    async def scenario() -> None:
        async with running() as (server, calls):
            _reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(b"GET /poll HTTP/1.1\r\n" + H + b"\r\n")
            await calls.poll_started.wait()
            assert calls.poll_cancelled == 0
            writer.close()
            await writer.wait_closed()
            async with asyncio.timeout(5):  # a poll that is never cancelled fails here
                while calls.poll_cancelled == 0:
                    await asyncio.sleep(0.01)
            assert calls.poll_cancelled == 1

    asyncio.run(scenario())


def test_pipelined_request_behind_a_long_poll_is_not_taken_for_eof() -> None:
    async def scenario() -> None:
        async with running() as (server, calls):
            raw = await exchange(
                server.port,
                b"GET /poll?timeout=0.1 HTTP/1.1\r\n" + H + b"\r\n"
                b"GET /json HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n",
            )
            assert statuses(raw) == [200, 200]
            assert b'{"fired":false}' in raw
            assert calls.poll_cancelled == 0

    asyncio.run(scenario())


def test_graceful_shutdown_answers_long_polls_and_finishes_in_flight_requests() -> None:
    async def scenario() -> None:
        async with running() as (server, calls):
            polls = [
                asyncio.create_task(exchange(server.port, b"GET /poll HTTP/1.1\r\n" + H + b"\r\n"))
                for _ in range(3)
            ]
            slow = asyncio.create_task(
                exchange(server.port, b"GET /slow HTTP/1.1\r\n" + H + b"\r\n")
            )
            port = server.port
            idle_reader, idle_writer = await asyncio.open_connection("127.0.0.1", port)
            await calls.poll_started.wait()
            await asyncio.sleep(0.05)
            await server.shutdown()
            for raw in await asyncio.gather(*polls):
                assert statuses(raw) == [200]
                assert b'{"fired":false}' in raw
                assert b"Connection: close" in raw
            assert statuses(await slow) == [200]
            assert await idle_reader.read() == b""
            idle_writer.close()
            await idle_writer.wait_closed()
            assert server.open_connections == 0
            with pytest.raises(ConnectionError):
                await exchange(port, b"GET /json HTTP/1.1\r\n" + H + b"\r\n")

    asyncio.run(scenario())


def test_serve_until_signal_shuts_down_and_returns_zero() -> None:
    async def scenario() -> int:
        server = HttpServer(Router(), FAST_LIMITS)
        await server.start("127.0.0.1", 0)
        asyncio.get_running_loop().call_later(0.05, os.kill, os.getpid(), signal.SIGTERM)
        return await serve_until_signal(server)

    assert asyncio.run(scenario()) == 0


def test_error_bodies_are_exactly_the_api_shape() -> None:
    async def scenario() -> None:
        async with running() as (server, _):
            raw = await exchange(
                server.port, b"GET /nowhere HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n"
            )
            assert json.loads(body_of(raw)) == {
                "error": {"code": "not_found", "message": "no such path"}
            }

    asyncio.run(scenario())


def test_a_client_that_stops_reading_is_cut_off_by_the_write_timeout() -> None:
    async def scenario() -> None:
        async with running(evolve(FAST_LIMITS, write_timeout_s=0.2)) as (server, calls):
            _reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(b"GET /flood HTTP/1.1\r\n" + H + b"\r\n")
            async with asyncio.timeout(5):  # a server that keeps waiting fails here
                while calls.flood_closed == 0:  # the server gave up writing
                    await asyncio.sleep(0.02)
                while server.open_connections:
                    await asyncio.sleep(0.02)
            assert calls.flood_closed == 1
            assert server.open_connections == 0
            writer.close()
            await writer.wait_closed()

    asyncio.run(scenario())


def test_absolute_form_target_is_served_by_its_path() -> None:
    async def scenario() -> None:
        async with running() as (server, _):
            raw = await exchange(
                server.port,
                b"GET http://x/rooms/a?b=1 HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n",
            )
            assert statuses(raw) == [200]
            assert body_of(raw) == b'{"room":"a","query":{"b":["1"]}}'

    asyncio.run(scenario())


def get_room(query: bytes) -> bytes:
    """GET /rooms/r1 with `query` on a connection of its own."""

    async def scenario() -> bytes:
        async with running() as (server, _):
            return await exchange(
                server.port, b"GET /rooms/r1?" + query + b" HTTP/1.1\r\n" + H + CLOSE
            )

    return asyncio.run(scenario())


@pytest.mark.parametrize(
    "query",
    [b"x=%ff", b"%ff=1", b"x=%C3", b"x=%01", b"x=a%00b", b"x=%7F", b"x=%C2%85", b"n%0A=1"],
)
def test_a_query_that_is_not_utf8_or_holds_control_characters_is_a_400(query: bytes) -> None:
    raw = get_room(query)
    assert statuses(raw) == [400]
    assert b'"code":"bad_request"' in raw


def test_a_query_in_utf8_is_decoded() -> None:
    raw = get_room(b"x=%D0%B6+%F0%9F%99%82&y")
    assert statuses(raw) == [200]
    assert body_of(raw) == '{"room":"r1","query":{"x":["ж 🙂"],"y":[""]}}'.encode()


@pytest.mark.parametrize(
    "body",
    [b'{"t":"\\ud800"}', b'{"\\udfff":1}', b"[" * 5000 + b"]" * 5000, b'{"n":1e999}', b'{"n":NaN}'],
    ids=["lone surrogate", "surrogate key", "5000 deep", "infinite", "NaN"],
)
def test_json_the_server_cannot_represent_is_a_400_not_a_500(
    body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        async with running() as (server, _):
            raw = await exchange(
                server.port,
                b"POST /json HTTP/1.1\r\n" + H + b"Content-Type: application/json\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n%b" % (len(body), body),
            )
            assert statuses(raw) == [400]
            assert b'"code":"bad_json"' in raw

    with caplog.at_level(logging.INFO):
        asyncio.run(scenario())
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_handlers_see_the_declared_length_the_codec_checked() -> None:
    async def scenario() -> None:
        async with running() as (server, _):
            upload = b"PUT /upload HTTP/1.1\r\n" + H + b"Authorization: Bearer ok\r\n"
            raw = await exchange(
                server.port,
                upload + b"Content-Length: 3, 3\r\n\r\nabc"
                + upload + b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                b"2\r\nde\r\n0\r\n\r\n",
            )  # fmt: skip
            assert statuses(raw) == [201, 201]
            assert b'{"size":3,"declared":3}' in raw
            assert raw.endswith(b'{"size":2,"declared":null}')

    asyncio.run(scenario())


def test_the_access_log_shows_route_patterns_never_the_secrets_in_paths(
    caplog: pytest.LogCaptureFixture,
) -> None:
    long_path = b"/nowhere/" + b"a" * 55 + b"SECRET6"  # past what the log keeps
    requests = [
        (b"POST", b"/join/SECRET1?x=1"),
        (b"DELETE", b"/rooms/r1/links/SECRET2"),
        (b"GET", b"/join/SECRET3"),  # 405
        (b"BREW", b"/join/SECRET4"),  # 501
        (b"POST", b"/join/SECRET5%ff"),  # 400: the token does not decode
        (b"GET", long_path),  # 404
        (b"GET", b"/x'\"\\y"),  # 404, quotes and a backslash
        (b"POST", b"http://x/join/SECRET7"),  # absolute-form
    ]

    async def scenario() -> None:
        async with running() as (server, _):
            wire = b"".join(m + b" " + p + b" HTTP/1.1\r\n" + H + b"\r\n" for m, p in requests)
            raw = await exchange(server.port, wire + b"GET /json HTTP/1.1\r\n" + H + CLOSE)
            assert statuses(raw) == [204, 204, 405, 501, 400, 404, 404, 204, 200]

    with caplog.at_level(logging.INFO, logger="transport.http"):
        asyncio.run(scenario())
    access = [r.getMessage() for r in caplog.records if ACCESS_LINE.fullmatch(r.getMessage())]
    assert [" ".join(line.split(" ")[:3]) for line in access] == [
        "POST /join/{token} 204",
        "DELETE /rooms/{room}/links/{token} 204",
        "GET /join/{token} 405",
        "BREW /join/{token} 501",
        "POST /join/{token} 400",
        "GET /nowhere/" + "a" * 55 + "... 404",
        "GET /x'\"\\\\y 404",
        "POST /join/{token} 204",
        "GET /json 200",
    ]
    assert "SECRET" not in caplog.text
