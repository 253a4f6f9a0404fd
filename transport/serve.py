"""The composition root: settings in; the log, the service, the API and the server out.

`run_server` is what `chat-server` runs: open the log and replay it
(`app.open_service`), serve the API over our HTTP/1.1 (`start_api`), wait
for SIGINT/SIGTERM or a log failure, and stop in order (`stop_api`): answer
parked polls, let requests finish, flush cursors, close the log. Tests use
`start_api`/`stop_api` around a service of their own.

A replica fenced out of a shared log (another replica took over writing
while this one had commands staged: `Core.fenced`) does not stop: its
staged commands were answered 503, and since they are applied in its read
model but were never stored, the service is closed and a new one is built
from the stream (`_rejoin`: the replica's snapshot, then the stream), on
the same listening socket. Meanwhile every request is answered 503 with
Retry-After. The new service follows the new writer, forwards commands to
it, and competes for the lease again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time

from app import ChatService, Settings, StartupError, open_replica, open_service, pick
from transport.api import ChatApi
from transport.metrics import Metrics, serve_metrics
from transport.server import HttpLimits, HttpServer, Router
from transport.server.router import NoRouteError, RouteMatch

log = logging.getLogger("transport.api")
# The /metrics server of an API server, when it listens on an address of its own.
_METRICS_SERVERS: dict[HttpServer, HttpServer] = {}
# The metrics of an API server (kept across a replica's rejoin: counts go on).
_METRICS: dict[HttpServer, Metrics] = {}
REJOIN_PAUSE_S = 1.0  # between tries to rejoin the log while NATS does not answer


class _Rejoining(Router):
    """Every request while a fenced replica rebuilds its service: 503 with Retry-After."""

    def resolve(self, method: str, raw_path: str) -> RouteMatch:
        raise NoRouteError(
            503,
            "unavailable",
            "this replica is rejoining the log after another took over writing; try again",
            pattern=None,
            headers=(("Retry-After", "1"),),
        )


def http_limits(settings: Settings) -> HttpLimits:
    """The HTTP layer's limits from the server settings."""
    return pick(settings, HttpLimits, partial=True)


async def start_api(service: ChatService, settings: Settings) -> HttpServer:
    """Serve the API of a started service on `settings.host:port` (0: any free port).

    GET /metrics is served where `settings.metrics` says: on this port
    (`api`), on an address of its own, or not at all.
    """
    metrics = None if settings.metrics == "off" else Metrics(service)
    server = HttpServer(_router(service, settings, metrics), http_limits(settings))
    await server.start(settings.host, settings.port)
    if metrics is not None:
        _METRICS[server] = metrics
        metrics.watch(server)
        if settings.metrics != "api":
            _METRICS_SERVERS[server] = await serve_metrics(metrics, settings.metrics)
    return server


def _router(service: ChatService, settings: Settings, metrics: Metrics | None) -> Router:
    here = metrics.endpoint if metrics is not None and settings.metrics == "api" else None
    api = ChatApi(service, settings, metrics=here)
    return api.router(metrics.router() if metrics is not None else None)


def rebind_api(server: HttpServer, service: ChatService, settings: Settings) -> None:
    """Serve `service` on `server` from now on (a replica that rejoined the log)."""
    metrics = _METRICS.get(server)
    if metrics is not None:
        metrics.bind(service)
    server.router = _router(service, settings, metrics)


async def stop_api(server: HttpServer, service: ChatService | None) -> None:
    """Answer parked polls, let requests finish, then flush and close the service."""
    if service is not None:
        service.close_polls()
    await server.shutdown()
    _METRICS.pop(server, None)
    metrics_server = _METRICS_SERVERS.pop(server, None)
    if metrics_server is not None:
        await metrics_server.shutdown()
    if service is not None:
        await service.close()


async def _rejoin(
    server: HttpServer, old: ChatService, settings: Settings, stop: asyncio.Event
) -> ChatService | None:
    """Replace a fenced replica's service by one built from the stream; None when stopped first."""
    server.router = _Rejoining()
    log.warning("another replica took over writing: rebuilding from the stream as a follower")
    try:
        await old.close()
    except Exception:  # the new service must still start: log it and go on
        log.exception("closing the fenced service failed")
    while not stop.is_set():
        try:
            service = await open_replica(settings)
        except StartupError as exc:
            log.warning("cannot rejoin the log yet (retrying): %s", exc)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(REJOIN_PAUSE_S):
                    await stop.wait()
            continue
        if stop.is_set():
            await service.close()
            return None
        # Cursor moves the old service held but had not written: they name offsets
        # the stream holds (reads never see past it), so the new one writes them.
        for key, pending in old.polling.pending_cursors.items():
            service.polling.pending_cursors.setdefault(key, pending)
        rebind_api(server, service, settings)
        log.info("rejoined the log head=%d", service.core.durable_head)
        return service
    return None


async def run_server(settings: Settings) -> int:
    """Replay the log, serve until SIGINT/SIGTERM (exit 0) or a log failure (exit 1).

    Raises StartupError when the data directory cannot be used.
    """
    started = time.monotonic()
    service = await (open_replica(settings) if settings.nats_url else open_service(settings))
    try:
        server = await start_api(service, settings)
    except BaseException:
        await service.close()
        raise
    snapshot = service.snapshots.started_from
    log.info(
        "listening on http://%s:%d data_dir=%s log=%s snapshot=%s replayed=%d replay_s=%.3f "
        "start_s=%.3f",
        settings.host if ":" not in settings.host else f"[{settings.host}]",
        server.port,
        settings.data_dir,
        service.log_id,
        "none" if snapshot is None else snapshot,
        service.replayed_events,
        service.replay_s,
        time.monotonic() - started,
    )
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    try:
        current: ChatService | None = service
        exit_code = 0
        while current is not None:
            stopped = asyncio.ensure_future(stop.wait())
            failed = asyncio.ensure_future(current.failed.wait())
            await asyncio.wait({stopped, failed}, return_when=asyncio.FIRST_COMPLETED)
            for waiter in (stopped, failed):
                waiter.cancel()
            if stop.is_set() or not current.core.fenced:
                break
            current = await _rejoin(server, current, settings, stop)
        if current is not None and current.failed.is_set() and not current.core.fenced:
            exit_code = 1
        log.info("shutting down (%s)", "log failure" if exit_code else "signal")
        await stop_api(server, current)
    finally:
        for sig in signals:
            with contextlib.suppress(ValueError, RuntimeError):
                loop.remove_signal_handler(sig)
    log.info("stopped exit_code=%d", exit_code)
    return exit_code
