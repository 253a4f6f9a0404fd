"""Our own HTTP/1.1, sans-IO: bytes in, request or response events out; heads written.

No sockets and no asyncio here, so the client (`client.http`) and the server
(`transport.server`) share one parser and one writer. Error codes the layer
adds to API.md are listed in `transport.http.errors`.
"""

from transport.http.codec import (
    MAX_HEADER_BYTES,
    MAX_HEADER_FIELDS,
    MAX_REQUEST_LINE_BYTES,
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
from transport.http.headers import Headers, check_field
from transport.http.writers import (
    LAST_CHUNK,
    REASONS,
    encode_chunk,
    write_request,
    write_request_head,
    write_response_head,
)

__all__ = [
    "RequestParser",
    "ResponseParser",
    "RequestHead",
    "ResponseHead",
    "Data",
    "EndOfMessage",
    "NeedData",
    "NEED_DATA",
    "Headers",
    "check_field",
    "HttpError",
    "ProtocolError",
    "write_request",
    "write_request_head",
    "write_response_head",
    "encode_chunk",
    "LAST_CHUNK",
    "REASONS",
    "MAX_REQUEST_LINE_BYTES",
    "MAX_HEADER_BYTES",
    "MAX_HEADER_FIELDS",
]
