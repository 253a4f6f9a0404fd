"""GET /metrics: what this server does, in the Prometheus text format.

Each server has a registry of its own (not prometheus_client's global one),
so tests can run several in one process. Requests are counted by route
*pattern* (`/messages/{id}/file`), never by raw path: paths hold capability
tokens (`/join/<token>`). The rest is read when scraped: connections,
parked polls, the log's head and how far this replica is behind the
stream, what of the stream it holds in memory and how many messages it
read on demand, and the process's CPU and memory (`process_*`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from app import ChatService
from transport.http import HttpError
from transport.server import Handler, HttpServer, Request, Response, Router

LATENCY_BUCKETS_S: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60)
ROUND_BUCKETS_EVENTS: Final = (1, 2, 4, 8, 16, 32, 64, 128, 256, 1024, 4096)
ROUND_BUCKETS_S: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5)


class Metrics:
    """The metrics of one server, and the router wrapper and endpoint that serve them."""

    def __init__(self, service: ChatService) -> None:
        self.registry = registry = CollectorRegistry()
        ProcessCollector(registry=registry)
        self.requests = Counter(
            "chat_http_requests",
            "HTTP requests answered, by method, route pattern and status",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "chat_http_request_duration_seconds",
            "time from a request's head to its answer, by method and route pattern",
            ["method", "route"],
            buckets=LATENCY_BUCKETS_S,
            registry=registry,
        )
        self.events = Counter(
            "chat_events_durable", "events that became durable (any replica's)", registry=registry
        )
        self.appended = Counter(
            "chat_log_appended_events", "events this process appended to the log", registry=registry
        )
        self.round_events = Histogram(
            "chat_log_round_events",
            "events per group-commit round this process wrote",
            buckets=ROUND_BUCKETS_EVENTS,
            registry=registry,
        )
        self.round_seconds = Histogram(
            "chat_log_round_seconds",
            "time to make one round durable: write and fsync (file), or publish (JetStream)",
            buckets=ROUND_BUCKETS_S,
            registry=registry,
        )
        self._service = service
        gauges = {
            "chat_polls_parked": (
                "long polls waiting now",
                lambda: len(self._service.polling.waiters),
            ),
            "chat_log_durable_head": (
                "highest durable offset here",
                lambda: self._service.core.durable_head,
            ),
            "chat_log_lag_offsets": (
                "offsets the stream has that this replica has not followed yet",
                lambda: getattr(self._service.core.event_log, "lag", 0),
            ),
            "chat_log_window_bytes": (
                "bytes of the stream's rounds this replica holds in memory",
                lambda: getattr(self._service.core.event_log, "window_bytes", 0),
            ),
            "chat_log_writer": ("1 when this process writes the log", self._writes_here),
        }
        for name, (text, read) in gauges.items():
            Gauge(name, text, registry=registry).set_function(read)
        self._fetched = _FetchedCollector(service.core.event_log)
        registry.register(self._fetched)
        self._connections = Gauge("chat_http_connections", "open connections", registry=registry)
        self.bind(service)

    def bind(self, service: ChatService) -> None:
        """Report `service` from now on (a replica that rejoined has a new one; counts go on)."""
        self._service = service
        core = service.core
        core.listen(self)
        self._fetched.log = core.event_log
        # Both log backends call `round_observer(events, seconds)` after each round they write.
        if hasattr(core.event_log, "round_observer"):
            core.event_log.round_observer = self._observe_round

    def _writes_here(self) -> int:
        forwarder = self._service.core.forwarder
        return 1 if forwarder is None or forwarder.writes_here() else 0

    # -- feeding ------------------------------------------------------------------------

    def on_staged(self, seen: object) -> None:
        pass

    def on_durable(self, seen: Sequence[object]) -> None:
        self.events.inc(len(seen))

    def _observe_round(self, events: int, seconds: float) -> None:
        self.appended.inc(events)
        self.round_events.observe(events)
        self.round_seconds.observe(seconds)

    def watch(self, server: HttpServer) -> None:
        """Report `server`'s open connections."""
        self._connections.set_function(lambda: server.open_connections)

    def router(self) -> Router:
        """A router whose every route is counted and timed under its pattern."""
        return _CountingRouter(self)

    def wrap(self, method: str, pattern: str, handler: Handler) -> Handler:
        requests, latency = self.requests, self.latency

        async def counted(request: Request) -> Response:
            started = time.perf_counter()
            status = 500
            try:
                response = await handler(request)
                status = response.status
                return response
            except HttpError as exc:
                status = exc.status
                raise
            finally:
                requests.labels(method, pattern, str(status)).inc()
                latency.labels(method, pattern).observe(time.perf_counter() - started)

        return counted

    # -- serving ---------------------------------------------------------------------------

    async def endpoint(self, request: Request) -> Response:
        return Response(
            status=200,
            headers=(("Content-Type", CONTENT_TYPE_LATEST),),
            body=generate_latest(self.registry),
        )


class _FetchedCollector(Collector):
    """`chat_log_fetched_messages_total`: stream messages read on demand (0 on the file log)."""

    def __init__(self, log: object) -> None:
        self.log = log

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(
            "chat_log_fetched_messages",
            "stream messages this replica read on demand (offsets older than its window)",
            value=getattr(self.log, "fetched_messages", 0),
        )


class _CountingRouter(Router):
    def __init__(self, metrics: Metrics) -> None:
        super().__init__()
        self._metrics = metrics

    def add(
        self,
        method: str,
        pattern: str,
        handler: Handler,
        *,
        max_body_bytes: int | None = None,
        cancel_on_disconnect: bool = False,
    ) -> None:
        super().add(
            method,
            pattern,
            self._metrics.wrap(method, pattern, handler),
            max_body_bytes=max_body_bytes,
            cancel_on_disconnect=cancel_on_disconnect,
        )


async def serve_metrics(metrics: Metrics, address: str) -> HttpServer:
    """Serve only GET /metrics on `address` (HOST:PORT). Raises OSError."""
    host, _, port = address.rpartition(":")
    router = Router()
    router.add("GET", "/metrics", metrics.endpoint)
    server = HttpServer(router)
    await server.start(host.strip("[]"), int(port))
    return server
