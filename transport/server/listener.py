"""`HttpServer`: accepts connections, caps them, and shuts down gracefully.

How this works: every admitted connection is in `_connections`, counted per
peer address; those waiting for the first byte of a request (new ones and
keep-alive ones between requests) are also in `_idle`, oldest first. At
`max_connections` a new connection closes the oldest idle one instead of
being refused, so clients that connect and say nothing cannot hold the
server (a connection in the middle of a request is never closed for
another). Past `max_connections_per_peer` from its address, or when no
connection is idle, a new one is answered 503 with `Retry-After` and
closed after a brief linger. At shutdown the listener closes first; idle
connections then get `shutdown_idle_s` for a request already on its way,
which is answered with `Connection: close`, and busy ones the grace.
"""

from __future__ import annotations

import asyncio
import logging
import math
import signal
import time

from transport.http import write_response_head
from transport.server.connection import Connection
from transport.server.exchange import error_response
from transport.server.limits import HttpLimits
from transport.server.responses import http_date
from transport.server.router import Router

__all__ = ["HttpServer", "serve_until_signal"]

_LOGGER = logging.getLogger("transport.http")


class HttpServer:
    """Serves `router` over HTTP/1.1 (one `Connection` protocol per client)."""

    def __init__(
        self,
        router: Router,
        limits: HttpLimits | None = None,
        *,
        logger: logging.Logger | None = None,
    ) -> None:
        self.router = router
        self.limits = limits or HttpLimits()
        self.logger = logger or _LOGGER
        # Set when shutdown begins; long-poll handlers watch it and answer at once.
        self.closing = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._connections: set[Connection] = set()
        self._per_peer: dict[str, int] = {}  # open connections by peer address
        # Waiting for the first byte of a request, oldest first (dicts keep order).
        self._idle: dict[Connection, None] = {}
        # Refused past a cap: answered with 503, closed after a linger.
        self._refused: set[Connection] = set()
        self._refusals_unlogged = 0
        self._refusal_logged_at = -math.inf

    @property
    def sockets(self) -> tuple[object, ...]:
        """The listening sockets (empty before `start`)."""
        return tuple(self._server.sockets) if self._server is not None else ()

    @property
    def port(self) -> int:
        """The bound port (useful after `start(host, 0)`).

        Raises RuntimeError before `start`.
        """
        if self._server is None or not self._server.sockets:
            raise RuntimeError("server not started")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def open_connections(self) -> int:
        """How many client connections are open now."""
        return len(self._connections)

    async def start(self, host: str, port: int) -> None:
        """Bind and start accepting connections.

        Raises OSError when the address cannot be bound.
        """
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: Connection(self), host, port)
        self._sweeper = asyncio.create_task(self._sweep_deadlines())
        self.logger.info("listening on %s:%d", host, self.port)

    async def _sweep_deadlines(self) -> None:
        # One timer for all connections: each read records its deadline, and
        # this loop cancels the reads that are late (408 or a quiet close).
        while True:
            await asyncio.sleep(self.limits.deadline_resolution_s)
            now = asyncio.get_running_loop().time()
            for connection in list(self._connections):
                connection.expire_if_late(now)

    def admit(self, connection: Connection) -> bytes | None:
        """Register a new connection; past a cap, the 503 response to send instead."""
        if self.closing.is_set():
            return self._refuse(connection, "shutting down")
        host = connection.peer_host
        from_peer = self._per_peer.get(host, 0)
        if from_peer >= self.limits.max_connections_per_peer:
            return self._refuse(connection, f"{from_peer} open from {host}")
        if len(self._connections) >= self.limits.max_connections:
            if not self._idle:
                return self._refuse(connection, f"{len(self._connections)} open, none idle")
            next(iter(self._idle)).evict()  # the oldest idle one
        self._connections.add(connection)
        self._per_peer[host] = from_peer + 1
        return None

    def _refuse(self, connection: Connection, why: str) -> bytes:
        self._refused.add(connection)
        self._refusals_unlogged += 1
        now = time.monotonic()
        if now - self._refusal_logged_at >= 1.0:  # a flood must not flood the log too
            self.logger.warning("connections refused: %d (%s)", self._refusals_unlogged, why)
            self._refusals_unlogged, self._refusal_logged_at = 0, now
        response = error_response(
            503,
            "unavailable",
            "too many connections, retry later",
            headers=(("Retry-After", str(self.limits.retry_after_s)),),
        )
        head = write_response_head(
            503,
            [
                ("Date", http_date()),
                *response.headers,
                ("Content-Length", str(len(response.body))),
                ("Connection", "close"),
            ],
        )
        return head + response.body

    def idle_changed(self, connection: Connection) -> None:
        """Keep `_idle` in step with `connection.idle` (the newest idle last)."""
        if connection.idle:
            if connection in self._connections:
                self._idle[connection] = None
        else:
            self._idle.pop(connection, None)

    def forget(self, connection: Connection) -> None:
        """Drop a connection that is closed and no longer served."""
        self._idle.pop(connection, None)
        if connection in self._connections:
            self._connections.remove(connection)
            left = self._per_peer[connection.peer_host] - 1
            if left:
                self._per_peer[connection.peer_host] = left
            else:
                del self._per_peer[connection.peer_host]
        self._refused.discard(connection)

    async def shutdown(self) -> None:
        """Stop accepting, wake long polls, let requests finish within the grace, close the rest.

        Idle keep-alive connections get `shutdown_idle_s` for a request
        already on its way: it is answered with `Connection: close`.
        """
        self.closing.set()
        if self._server is None:
            return
        self._server.close()
        limits = self.limits
        idle_until = asyncio.get_running_loop().time() + min(
            limits.shutdown_idle_s, limits.shutdown_grace_s
        )
        for connection in list(self._idle):
            connection.drain_if_idle(idle_until)
        finished = {c.finished for c in (*self._connections, *self._refused)}
        if finished:
            _, pending = await asyncio.wait(finished, timeout=self.limits.shutdown_grace_s)
            if pending:
                self.logger.warning("shutdown: cancelled %d connections", len(pending))
                for connection in (*self._connections, *self._refused):
                    connection.cancel()
                await asyncio.wait(pending)
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        await self._server.wait_closed()
        self.logger.info("server stopped")

    async def __aenter__(self) -> HttpServer:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.shutdown()


async def serve_until_signal(server: HttpServer) -> int:
    """Run until SIGINT or SIGTERM, shut down gracefully, flush the log; returns exit status 0."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
        server.logger.info("signal received, shutting down")
        await server.shutdown()
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        for handler in logging.getLogger().handlers:
            handler.flush()
    return 0
