"""Reading `GET /events/stream`: Server-Sent Events over a connection of their own.

How this works: the stream is one long response on a connection of its
own (`open_stream`), so it never holds up the keep-alive connection that
sends. Its body is cut into lines and the lines into events as the WHATWG
standard says: `field: value` lines, an empty line ends an event, a line
starting with a colon is a comment (a heartbeat), and an event with an `id`
but no `data` only moves the position. Each read must bring a byte within
`timeout_s` (the server sends a heartbeat well within it), else the stream
is given up as stalled (NetworkError) and the caller reconnects.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Final

from attrs import frozen

from client.api import MAX_JSON_ANSWER_BYTES, raise_for_status
from client.http import NetworkError, Origin
from client.streaming import open_stream

__all__ = ["MAX_EVENT_BYTES", "SseEvent", "SseParser", "sse_events"]

MAX_EVENT_BYTES: Final = 4 * 1024 * 1024  # one event's lines; the server's are a few KiB


@frozen
class SseEvent:
    """One block: its `id` (None: unchanged), `event` type, `data` (None: no data).

    `retry` is the reconnection delay the block asked for in milliseconds (None: none).
    """

    id: str | None
    type: str | None
    data: str | None
    retry: int | None = None


class SseParser:
    """Bytes in, events out; feed it the body as it arrives."""

    def __init__(self) -> None:
        self._buffer = b""
        self._lines: list[str] = []

    def feed(self, data: bytes) -> list[SseEvent]:
        """The events completed by `data`.

        Raises NetworkError when one event grows past MAX_EVENT_BYTES.
        """
        self._buffer += data
        events: list[SseEvent] = []
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > MAX_EVENT_BYTES:
                    raise NetworkError("an event of the stream is too large")
                return events
            line = self._buffer[:end].rstrip(b"\r").decode("utf-8", "replace")
            self._buffer = self._buffer[end + 1 :]
            if line:
                self._lines.append(line)
                continue
            event = _event(self._lines)
            self._lines = []
            if event is not None:
                events.append(event)


def _event(lines: Sequence[str]) -> SseEvent | None:
    event_id: str | None = None
    event_type: str | None = None
    data: list[str] = []
    retry: int | None = None
    for line in lines:
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "id" and "\0" not in value:
            event_id = value
        elif name == "event":
            event_type = value
        elif name == "data":
            data.append(value)
        elif name == "retry" and value.isascii() and value.isdigit() and len(value) < 10:
            retry = int(value)
    if event_id is None and not data and retry is None:
        return None
    return SseEvent(event_id, event_type, "\n".join(data) if data else None, retry)


async def sse_events(
    origin: Origin,
    target: str,
    *,
    headers: Sequence[tuple[str, str]],
    timeout_s: float,
    user_agent: str,
) -> AsyncIterator[SseEvent]:
    """The events of one stream, until the server ends it.

    Raises ApiError for an error answer (404: no stream here; 409: resync),
    ServerTroubleError, and NetworkError when it fails or stalls.
    """
    async with open_stream(
        origin,
        "GET",
        target,
        headers=[("Accept", "text/event-stream"), *headers],
        timeout_s=timeout_s,
        user_agent=user_agent,
    ) as response:
        if response.status >= 400:
            raise_for_status(response.status, await response.read(MAX_JSON_ANSWER_BYTES))
        parser = SseParser()
        async for chunk in response.chunks():
            for event in parser.feed(chunk):
                yield event
