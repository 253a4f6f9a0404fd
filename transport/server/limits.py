"""Every limit and deadline of the HTTP layer, with production defaults."""

from __future__ import annotations

from attrs import frozen

from transport import http

__all__ = ["HttpLimits"]


@frozen(kw_only=True)
class HttpLimits:
    """Limits and deadlines of `HttpServer` (HTTP.md "Parsing" and "Connections")."""

    max_request_line_bytes: int = http.MAX_REQUEST_LINE_BYTES
    max_header_bytes: int = http.MAX_HEADER_BYTES
    max_header_fields: int = http.MAX_HEADER_FIELDS
    # Routes without their own max_body_bytes get this one.
    default_max_body_bytes: int = 1024 * 1024
    # The whole header section must arrive within this time of its first byte; the
    # first request's within this time of the accept (a new connection has no idle phase).
    header_timeout_s: float = 10.0
    # A body may take body_grace_s, plus one second per body_min_rate_bytes_per_s read.
    body_min_rate_bytes_per_s: int = 1024
    body_grace_s: float = 10.0
    keepalive_timeout_s: float = 75.0
    # Read deadlines are checked this often, so they hold to within this much.
    deadline_resolution_s: float = 0.1
    # One wait for the client to take more of an answer, and the close after the
    # last one: past this the connection is reset.
    write_timeout_s: float = 30.0
    # A whole answer, like a body on the way in, must be taken at a minimum rate:
    # response_grace_s plus one second per response_min_rate_bytes_per_s taken. 16 KiB/s
    # is 128 kbit/s, a GPRS link; a client that stops reading is reset (its kernel
    # buffers freed) within the grace plus what the buffers hold over the rate.
    response_grace_s: float = 10.0
    response_min_rate_bytes_per_s: int = 16 * 1024
    # The kernel's send buffer per connection (SO_SNDBUF; Linux doubles it for its
    # bookkeeping). Linux grows it up to tcp_wmem's maximum (4 MiB) on its own, which
    # let 200 clients that never read park 385 MiB in the kernel (bench_slowloris.py).
    # 128 KiB still fills 10 Mbit/s at 100 ms round trip. 0 leaves the kernel's choice.
    send_buffer_bytes: int = 128 * 1024
    # Queued above the kernel before the writer waits (the transport's high-water
    # mark; it resumes at a quarter of it, asyncio's own ratio).
    write_buffer_bytes: int = 64 * 1024
    # Past max_connections, the oldest idle connection (between requests, or new
    # and silent) is closed for a new one; when none is idle the new one gets 503.
    max_connections: int = 10_000
    # Open connections from one address: a browser opens 6 per host, a NAT of a
    # few dozen users several times that; one address cannot take the whole cap.
    max_connections_per_peer: int = 64
    max_requests_per_connection: int = 10_000
    retry_after_s: int = 1  # Retry-After sent with 503 past a connection cap
    shutdown_grace_s: float = 5.0
    # At shutdown, idle keep-alive connections stay open this long (within the grace)
    # so that a request already on its way is answered, with Connection: close, rather
    # than reset; about a round trip on a slow network, and it delays every shutdown.
    shutdown_idle_s: float = 1.0
    # After an answer with request bytes unread: half-close, then read and discard
    # until the client closes or is silent for linger_s, at most linger_max_bytes...
    linger_s: float = 1.0
    linger_max_bytes: int = 1024 * 1024
    # ...plus the rest of a declared body (Content-Length) up to linger_body_max_bytes
    # (over ten times the default largest upload, 5 MiB), for at most linger_body_max_s
    # (nginx's lingering_time): clients that send a whole body before reading (urllib,
    # http.client) then see the 413 instead of a reset.
    linger_body_max_bytes: int = 64 * 1024 * 1024
    linger_body_max_s: float = 30.0
    read_chunk_bytes: int = 64 * 1024
    # read_json refuses (400 bad_json) JSON nested deeper than this: API.md's bodies
    # nest 2 levels, and json's decoder recurses once per level...
    max_json_depth: int = 64
    # ...and integers of more digits: msgpack, the log's codec, stops at 64 bits, and
    # 20 digits hold every signed and unsigned 64-bit value.
    max_json_integer_digits: int = 20
