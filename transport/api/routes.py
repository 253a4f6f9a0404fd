"""The routing table of the chat API: each endpoint of API.md and its handler.

Handlers parse the request (auth, query, JSON body), call the service, and
map its answer to JSON (`transport.api.mapping`). A domain error becomes its
API.md error through `mapping.error_for`; everything else unexpected is the
HTTP layer's `500 internal`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable

from app import ChatService, ServiceFailedError, Session, Settings
from domain import DomainError, ValidationError
from transport.api import mapping
from transport.api.docs_page import docs_page
from transport.api.openapi import openapi_document
from transport.http import (
    Request,
    Response,
    Router,
    empty,
    error_response,
    json_response,
    read_json,
)

log = logging.getLogger("transport.api")

Endpoint = Callable[[Request], Awaitable[Response]]


def _guarded(endpoint: Endpoint) -> Endpoint:
    """Translate domain and service failures into API errors."""

    async def handle(request: Request) -> Response:
        try:
            return await endpoint(request)
        except DomainError as exc:
            return mapping.error_for(exc)
        except ServiceFailedError as exc:
            return error_response(503, "unavailable", str(exc), headers=(("Retry-After", "5"),))

    return handle


def _query_int(request: Request, name: str, *, required: bool = False) -> int | None:
    raw = request.query_one(name)
    if raw is None or raw == "":
        if required:
            raise ValidationError(f"query parameter {name!r} is required", field=name)
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19:
        raise ValidationError(f"{name} must be a non-negative integer", field=name)
    return int(raw)


def _query_seconds(request: Request, name: str) -> float | None:
    raw = request.query_one(name)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or not raw.isascii():
        raise ValidationError(f"{name} must be a number of seconds", field=name)
    return value


class ChatApi:
    """The handlers, bound to one service."""

    def __init__(self, service: ChatService, settings: Settings) -> None:
        self.service = service
        self.settings = settings
        self._openapi = mapping.dumps(openapi_document(settings))
        self._docs = docs_page(settings)

    def router(self) -> Router:
        router = Router()
        json_body = self.settings.max_json_body_bytes
        routes: list[tuple[str, str, Endpoint, int | None, bool]] = [
            ("POST", "/connect", self.connect, json_body, False),
            ("POST", "/disconnect", self.disconnect, 0, False),
            ("GET", "/status", self.status, None, False),
            ("POST", "/send", self.send, json_body, False),
            ("GET", "/rooms/{room}/messages", self.history, None, False),
            ("GET", "/events", self.events, None, True),
            ("GET", "/health", self.health, None, False),
            ("GET", "/openapi.json", self.openapi, None, False),
            ("GET", "/docs", self.docs, None, False),
        ]
        for method, pattern, endpoint, max_body, cancel in routes:
            router.add(
                method,
                pattern,
                _guarded(endpoint),
                max_body_bytes=max_body,
                cancel_on_disconnect=cancel,
            )
        return router

    def _session(self, request: Request) -> Session:
        header = request.headers.get("authorization") or ""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer":
            token = ""
        return self.service.authenticate(token.strip())

    # -- identity -----------------------------------------------------------------

    async def connect(self, request: Request) -> Response:
        body = await read_json(request)
        result = await self.service.connect(body.get("name"), body.get("password"))
        return json_response(201 if result.created else 200, mapping.connect_json(result))

    async def disconnect(self, request: Request) -> Response:
        await self.service.disconnect(self._session(request))
        return empty()

    async def status(self, request: Request) -> Response:
        return json_response(200, mapping.status_json(self.service.status(self._session(request))))

    # -- messages -----------------------------------------------------------------

    async def send(self, request: Request) -> Response:
        session = self._session(request)
        body = await read_json(request)
        message = await self.service.send(
            session,
            text=body.get("text"),
            room=body.get("room"),
            to=body.get("to"),
            idempotency_key=request.headers.get("idempotency-key"),
        )
        return json_response(201, {"message": mapping.message_json(message)})

    async def history(self, request: Request) -> Response:
        session = self._session(request)
        page = self.service.history(
            session,
            request.path_params["room"],
            before=_query_int(request, "before"),
            limit=_query_int(request, "limit"),
        )
        return json_response(200, mapping.history_json(page))

    # -- synchronisation --------------------------------------------------------------

    async def events(self, request: Request) -> Response:
        session = self._session(request)
        after = _query_int(request, "after", required=True)
        assert after is not None
        page = await self.service.poll(
            session,
            after=after,
            timeout_s=0.0 if request.closing.is_set() else _query_seconds(request, "timeout"),
            limit=_query_int(request, "limit"),
            log_id=request.query_one("log"),
        )
        return json_response(200, mapping.events_json(page))

    # -- service ------------------------------------------------------------------------

    async def health(self, request: Request) -> Response:
        health = self.service.health()
        return json_response(200, {"status": "ok", "offset": health.offset, "log": health.log})

    async def openapi(self, request: Request) -> Response:
        return Response(
            status=200,
            headers=(("Content-Type", "application/json; charset=utf-8"),),
            body=self._openapi,
        )

    async def docs(self, request: Request) -> Response:
        return Response(
            status=200, headers=(("Content-Type", "text/html; charset=utf-8"),), body=self._docs
        )
