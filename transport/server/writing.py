"""Writing a handler's response on a connection: a whole body, or a stream.

A response whose header fields could inject others becomes a 500 before
anything is written. HEAD, 204 and 304 get the head alone. A stream is
chunked unless the handler gave its length, and a stream that breaks off
(an exception, or fewer bytes than promised) leaves the connection unsound:
the caller closes it. The client must take the answer at the minimum rate
of `Wire.answer_deadline`; for an open-ended stream (SSE) the rate counts
from the last moment the client had taken all that was written.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from transport.http import LAST_CHUNK, RequestHead, encode_chunk
from transport.server.exchange import Response, error_response
from transport.server.responses import encode_head
from transport.server.wire import Wire

__all__ = ["Replier", "close_stream", "write_stream", "write_whole"]


class Replier(Protocol):
    """What writing needs of the connection: its wire, and where to log failures."""

    wire: Wire
    logger: logging.Logger


def _has_no_body(head: RequestHead, response: Response) -> bool:
    return head.method == "HEAD" or response.status in (204, 304)


def _encoded_head(
    to: Replier, head: RequestHead, response: Response, keep_alive: bool, path: str
) -> tuple[bytes, Response]:
    """The encoded head, or that of a 500 when the handler's headers are invalid."""
    length = len(response.body) if response.stream is None else response.content_length
    try:
        return encode_head(response, length, keep_alive=keep_alive, version=head.version), response
    except ValueError:
        to.logger.exception("invalid response header for %s %s", head.method, path)
        response = error_response(500, "internal", "internal server error")
        length = len(response.body)
        data = encode_head(response, length, keep_alive=keep_alive, version=head.version)
        return data, response


def write_whole(
    to: Replier, head: RequestHead, response: Response, keep_alive: bool, path: str
) -> int:
    """Queue a response with a `body` (not a stream); returns the body bytes sent.

    The caller then drains the wire (`Wire.drain_answer`) when `wire.must_drain`.
    """
    data, response = _encoded_head(to, head, response, keep_alive, path)
    if _has_no_body(head, response):
        to.wire.write(data)
        return 0
    to.wire.write(data + response.body)
    return len(response.body)


async def write_stream(
    to: Replier, head: RequestHead, response: Response, keep_alive: bool, path: str
) -> tuple[int, bool]:
    """Write a streamed response; returns (body bytes sent, whether the connection is sound).

    Raises TimeoutError or ConnectionError when the client does not take it
    at the minimum rate (`Wire.answer_deadline`).
    """
    started = asyncio.get_running_loop().time()
    wire = to.wire
    stream = response.stream
    assert stream is not None
    length = response.content_length
    data, checked = _encoded_head(to, head, response, keep_alive, path)
    if checked is not response:  # invalid headers: a 500 with a body instead
        await close_stream(stream)
        sent = write_whole(to, head, checked, keep_alive, path)
        await wire.drain_answer(started, sent)
        return sent, True
    if _has_no_body(head, response):
        await close_stream(stream)
        wire.write(data)
        await wire.drain_answer(started, 0)
        return 0, True
    wire.write(data)
    sent = 0
    # What the minimum rate counts: bytes written since `rate_from`. An open-ended stream
    # (SSE) restarts the count whenever the client has taken everything queued, so that
    # its quiet stretches (nothing to send) are not taken for a slow client.
    rate_from, rate_base = started, 0
    loop = asyncio.get_running_loop()
    try:
        async for chunk in stream:
            if response.open_ended and not wire.queued_bytes:
                rate_from, rate_base = loop.time(), sent
            sent += len(chunk)
            wire.write(chunk if length is not None else encode_chunk(chunk))
            await wire.drain_answer(rate_from, sent - rate_base)
    except (ConnectionError, TimeoutError, OSError):
        raise
    except Exception:
        to.logger.exception("response stream failed: %s %s", head.method, path)
        return sent, False
    finally:
        await close_stream(stream)
    if length is not None and sent != length:
        to.logger.error("response stream sent %d bytes, promised %d", sent, length)
        return sent, False
    if length is None:
        wire.write(LAST_CHUNK)
    await wire.drain_answer(rate_from, sent - rate_base)
    return sent, True


async def close_stream(stream: object) -> None:
    """Close a response's stream (its `aclose`, if it has one) without iterating it."""
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()
