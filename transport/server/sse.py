"""Server-Sent Events framing (the WHATWG HTML standard, "Server-sent events").

An event is a block of `field: value` lines ended by an empty line: `id`
(the client sends the last one back as `Last-Event-ID` when it reconnects),
`event` (its type), and one `data` line per line of its data; a line that
starts with a colon is a comment, which clients ignore (heartbeats). A
block with an `id` and no `data` moves the client's last event id without
dispatching anything. Lines end with LF; a value must hold neither CR nor
LF, which `sse_event` enforces by splitting `data` and refusing the rest.
"""

from __future__ import annotations

from collections.abc import AsyncIterable
from typing import Final

from transport.server.exchange import Response

__all__ = [
    "EVENT_STREAM_CONTENT_TYPE",
    "event_stream_response",
    "sse_comment",
    "sse_event",
    "sse_id",
    "sse_retry",
]

EVENT_STREAM_CONTENT_TYPE: Final = "text/event-stream; charset=utf-8"
_LINE_BREAKS: Final = ("\r", "\n")


def _field(name: str, value: str) -> str:
    if any(c in value for c in _LINE_BREAKS):
        raise ValueError(f"an SSE {name} must not hold a line break: {value!r}")
    return f"{name}: {value}\n"


def sse_event(event_id: int | None, event_type: str | None, data: str) -> bytes:
    """One event; `data` may span lines (each becomes a `data` line).

    Raises ValueError when the id or the type holds a line break.
    """
    parts = []
    if event_id is not None:
        parts.append(f"id: {event_id}\n")
    if event_type is not None:
        parts.append(_field("event", event_type))
    parts.extend(f"data: {line}\n" for line in data.replace("\r\n", "\n").split("\n"))
    parts.append("\n")
    return "".join(parts).encode("utf-8")


def sse_id(event_id: int) -> bytes:
    """A block that only moves the client's last event id (nothing is dispatched)."""
    return f"id: {event_id}\n\n".encode("ascii")


def sse_comment(text: str = "") -> bytes:
    """A comment block (a heartbeat). Raises ValueError for a line break in `text`."""
    return (_field("", text) + "\n").encode("utf-8") if text else b":\n\n"


def sse_retry(milliseconds: int) -> bytes:
    """Tell the client how long to wait before it reconnects."""
    return f"retry: {max(0, milliseconds)}\n\n".encode("ascii")


def event_stream_response(
    chunks: AsyncIterable[bytes], *, headers: tuple[tuple[str, str], ...] = ()
) -> Response:
    """A `200 text/event-stream` response that stays open while `chunks` go on.

    Chunked, not cached, not transformed by proxies (`no-transform`), and not
    buffered by nginx (`X-Accel-Buffering: no`); open-ended, so the minimum
    response rate counts only while the client has something to take.
    """
    return Response(
        status=200,
        headers=(
            ("Content-Type", EVENT_STREAM_CONTENT_TYPE),
            ("Cache-Control", "no-store, no-transform"),
            ("X-Accel-Buffering", "no"),
            *headers,
        ),
        stream=chunks,
        open_ended=True,
    )
