"""Our own HTTP/1.1: a sans-IO codec and a connection handler on asyncio streams.

Server side: build a `Router`, serve it with `HttpServer`. Client side: the
sans-IO codec (`write_request`, `ResponseParser`). Error codes the layer adds
to API.md are listed in `transport.http.errors`.
"""

from transport.http.codec import (
    NEED_DATA,
    Data,
    EndOfMessage,
    NeedData,
    RequestHead,
    RequestParser,
    ResponseHead,
    ResponseParser,
)
from transport.http.errors import HttpError, ProtocolError
from transport.http.headers import Headers
from transport.http.limits import HttpLimits
from transport.http.messages import (
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
from transport.http.router import Handler, Router
from transport.http.server import HttpServer, serve_until_signal
from transport.http.writers import (
    LAST_CHUNK,
    encode_chunk,
    write_request,
    write_request_head,
    write_response_head,
)

__all__ = [
    # server
    "HttpServer",
    "HttpLimits",
    "Router",
    "Handler",
    "Request",
    "Response",
    "HttpError",
    "ProtocolError",
    "Headers",
    "json_response",
    "error_response",
    "empty",
    "stream_response",
    "read_json",
    "wait_for_event",
    "serve_until_signal",
    "JSON_CONTENT_TYPE",
    # sans-IO codec (also for clients)
    "RequestParser",
    "ResponseParser",
    "RequestHead",
    "ResponseHead",
    "Data",
    "EndOfMessage",
    "NeedData",
    "NEED_DATA",
    "write_request",
    "write_request_head",
    "write_response_head",
    "encode_chunk",
    "LAST_CHUNK",
]
