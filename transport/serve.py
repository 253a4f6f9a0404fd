"""The composition root: settings in; the log, the service, the API and the server out.

`run_server` is what `chat-server` runs: open the log and replay it
(`app.open_service`), serve the API over our HTTP/1.1 (`start_api`), wait
for SIGINT/SIGTERM or a log failure, and stop in order (`stop_api`): answer
parked polls, let requests finish, flush cursors, close the log. Tests use
`start_api`/`stop_api` around a service of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time

from app import ChatService, Settings, open_replica, open_service, pick
from transport.api import ChatApi
from transport.metrics import Metrics, serve_metrics
from transport.server import HttpLimits, HttpServer

log = logging.getLogger("transport.api")
# The /metrics server of an API server, when it listens on an address of its own.
_METRICS_SERVERS: dict[HttpServer, HttpServer] = {}


def http_limits(settings: Settings) -> HttpLimits:
    """The HTTP layer's limits from the server settings."""
    return pick(settings, HttpLimits, partial=True)


async def start_api(service: ChatService, settings: Settings) -> HttpServer:
    """Serve the API of a started service on `settings.host:port` (0: any free port).

    GET /metrics is served where `settings.metrics` says: on this port
    (`api`), on an address of its own, or not at all.
    """
    metrics = None if settings.metrics == "off" else Metrics(service)
    here = metrics.endpoint if metrics is not None and settings.metrics == "api" else None
    api = ChatApi(service, settings, metrics=here)
    router = api.router(metrics.router() if metrics is not None else None)
    server = HttpServer(router, http_limits(settings))
    await server.start(settings.host, settings.port)
    if metrics is not None:
        metrics.watch(server)
        if settings.metrics != "api":
            _METRICS_SERVERS[server] = await serve_metrics(metrics, settings.metrics)
    return server


async def stop_api(server: HttpServer, service: ChatService) -> None:
    """Answer parked polls, let requests finish, then flush and close the service."""
    service.close_polls()
    await server.shutdown()
    metrics_server = _METRICS_SERVERS.pop(server, None)
    if metrics_server is not None:
        await metrics_server.shutdown()
    await service.close()


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
        stopped = asyncio.ensure_future(stop.wait())
        failed = asyncio.ensure_future(service.failed.wait())
        await asyncio.wait({stopped, failed}, return_when=asyncio.FIRST_COMPLETED)
        for waiter in (stopped, failed):
            waiter.cancel()
        exit_code = 1 if service.failed.is_set() else 0
        log.info("shutting down (%s)", "log failure" if exit_code else "signal")
        await stop_api(server, service)
    finally:
        for sig in signals:
            with contextlib.suppress(ValueError, RuntimeError):
                loop.remove_signal_handler(sig)
    log.info("stopped exit_code=%d", exit_code)
    return exit_code
