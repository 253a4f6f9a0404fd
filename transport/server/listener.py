"""`HttpServer`: accepts connections, caps them, and shuts down gracefully."""

from __future__ import annotations

import asyncio
import logging
import signal

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
        # Refused past max_connections: answered with 503, closed after a linger.
        self._refused: set[Connection] = set()

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
        """Register a new connection; past the cap, the 503 response to send instead."""
        if len(self._connections) < self.limits.max_connections and not self.closing.is_set():
            self._connections.add(connection)
            return None
        self.logger.warning("connection refused: %d open", len(self._connections))
        self._refused.add(connection)
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

    def forget(self, connection: Connection) -> None:
        """Drop a connection that is closed and no longer served."""
        self._connections.discard(connection)
        self._refused.discard(connection)

    async def shutdown(self) -> None:
        """Stop accepting, wake long polls, let requests finish within the grace, close the rest."""
        self.closing.set()
        if self._server is None:
            return
        self._server.close()
        for connection in list(self._connections):
            connection.close_if_idle()
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
