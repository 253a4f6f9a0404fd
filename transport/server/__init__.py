"""Our HTTP/1.1 server on asyncio: connections, deadlines, routing, responses.

Build a `Router`, serve it with `HttpServer`. The parsing and writing of
messages is the sans-IO codec of `transport.http`, shared with the client.
"""

from transport.server.exchange import (
    JSON_CONTENT_TYPE,
    Request,
    Response,
    empty,
    error_response,
    json_response,
    read_json,
    stream_response,
    wait_for_event,
)
from transport.server.limits import HttpLimits
from transport.server.listener import HttpServer, serve_until_signal
from transport.server.router import Handler, Router
from transport.server.sse import (
    EVENT_STREAM_CONTENT_TYPE,
    event_stream_response,
    sse_comment,
    sse_event,
    sse_id,
    sse_retry,
)

__all__ = [
    "HttpServer",
    "HttpLimits",
    "Router",
    "Handler",
    "Request",
    "Response",
    "json_response",
    "error_response",
    "empty",
    "stream_response",
    "read_json",
    "wait_for_event",
    "serve_until_signal",
    "JSON_CONTENT_TYPE",
    "EVENT_STREAM_CONTENT_TYPE",
    "event_stream_response",
    "sse_comment",
    "sse_event",
    "sse_id",
    "sse_retry",
]
