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
from typing import Any

from app import ChatService, ScheduledView, ServiceFailedError, Session, Settings
from domain import DomainError, NotFoundError, ValidationError
from transport.api import mapping
from transport.api.disposition import content_disposition, etag, not_modified
from transport.api.docs_page import docs_page
from transport.api.openapi import openapi_document
from transport.server import (
    Request,
    Response,
    Router,
    empty,
    error_response,
    json_response,
    read_json,
    stream_response,
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


_MAX_DIGITS = 19  # an offset fits in a signed 64-bit integer


def _natural(raw: str) -> int | None:
    """A non-negative integer in plain ASCII digits, or None."""
    if raw.isascii() and raw.isdigit() and len(raw) <= _MAX_DIGITS:
        return int(raw)
    return None


def _query_int(request: Request, name: str, *, required: bool = False) -> int | None:
    raw = request.query_one(name)
    if raw is None or raw == "":
        if required:
            raise ValidationError(f"query parameter {name!r} is required", field=name)
        return None
    value = _natural(raw)
    if value is None:
        raise ValidationError(f"{name} must be a non-negative integer", field=name)
    return value


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


def _path_id(request: Request, what: str) -> int:
    """A numeric id from the path; anything else names nothing (404)."""
    raw = request.path_params["id"]
    value = _natural(raw)
    if value is None:
        raise NotFoundError(f"there is no {what} {raw!r}")
    return value


async def _optional_json(request: Request) -> dict[str, Any]:
    """A JSON object body where the body may also be left out."""
    if request.headers.get("content-type") is None and not await request.body():
        return {}
    return await read_json(request)


class ChatApi:
    """The handlers, bound to one service."""

    def __init__(self, service: ChatService, settings: Settings) -> None:
        self.service = service
        self.settings = settings
        self._openapi = mapping.dumps(openapi_document(settings))
        self._docs = docs_page(settings)

    def router(self, router: Router | None = None) -> Router:
        """The API's routes, added to `router` (a new one by default)."""
        router = router or Router()
        json_body = self.settings.default_max_body_bytes
        routes: list[tuple[str, str, Endpoint, int | None, bool]] = [
            ("POST", "/connect", self.connect, json_body, False),
            ("POST", "/disconnect", self.disconnect, 0, False),
            ("GET", "/status", self.status, None, False),
            ("POST", "/send", self.send, json_body, False),
            ("GET", "/rooms/{room}/messages", self.history, None, False),
            ("GET", "/scheduled", self.scheduled, None, False),
            ("DELETE", "/scheduled/{id}", self.cancel_scheduled, 0, False),
            ("POST", "/messages/{id}/comments", self.comment, json_body, False),
            ("GET", "/messages/{id}/comments", self.comments, None, False),
            ("POST", "/rooms", self.create_room, json_body, False),
            ("GET", "/rooms", self.rooms, None, False),
            ("POST", "/rooms/{room}/members", self.invite, json_body, False),
            ("POST", "/rooms/{room}/leave", self.leave, json_body, False),
            ("POST", "/rooms/{room}/links", self.create_link, json_body, False),
            ("DELETE", "/rooms/{room}/links/{token}", self.revoke_link, 0, False),
            ("POST", "/join/{token}", self.join, json_body, False),
            ("GET", "/rooms/{room}/requests", self.requests, None, False),
            ("POST", "/rooms/{room}/requests/{name}", self.decide, json_body, False),
            ("POST", "/users/{name}/report", self.report, json_body, False),
            ("POST", "/files", self.upload, self.settings.max_file_bytes, False),
            ("GET", "/messages/{id}/file", self.download, None, False),
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
        return self.service.identity.authenticate(token.strip())

    # -- identity -----------------------------------------------------------------

    async def connect(self, request: Request) -> Response:
        body = await read_json(request)
        result = await self.service.identity.connect(
            body.get("name"), body.get("password"), address=request.peer.rsplit(":", 1)[0]
        )
        return json_response(201 if result.created else 200, mapping.connect_json(result))

    async def disconnect(self, request: Request) -> Response:
        await self.service.identity.disconnect(self._session(request))
        return empty()

    async def status(self, request: Request) -> Response:
        return json_response(
            200, mapping.status_json(self.service.identity.status(self._session(request)))
        )

    # -- messages -----------------------------------------------------------------

    async def send(self, request: Request) -> Response:
        session = self._session(request)
        body = await read_json(request)
        sent = await self.service.messages.send(
            session,
            text=body.get("text"),
            room=body.get("room"),
            to=body.get("to"),
            send_at=body.get("send_at"),
            idempotency_key=request.headers.get("idempotency-key"),
        )
        if isinstance(sent, ScheduledView):
            return json_response(202, {"scheduled": mapping.scheduled_json(sent)})
        return json_response(201, {"message": mapping.message_json(sent)})

    async def history(self, request: Request) -> Response:
        session = self._session(request)
        page = self.service.messages.history(
            session,
            request.path_params["room"],
            before=_query_int(request, "before"),
            limit=_query_int(request, "limit"),
        )
        return json_response(200, mapping.history_json(page))

    async def scheduled(self, request: Request) -> Response:
        pending = self.service.schedule.pending(self._session(request))
        return json_response(200, {"scheduled": [mapping.scheduled_json(s) for s in pending]})

    async def cancel_scheduled(self, request: Request) -> Response:
        session = self._session(request)
        await self.service.schedule.cancel(session, _path_id(request, "scheduled message"))
        return empty()

    async def comment(self, request: Request) -> Response:
        session = self._session(request)
        message = _path_id(request, "message")
        body = await read_json(request)
        comment = await self.service.messages.comment(session, message, text=body.get("text"))
        return json_response(201, {"comment": mapping.comment_json(comment)})

    async def comments(self, request: Request) -> Response:
        session = self._session(request)
        page = self.service.messages.comments(
            session,
            _path_id(request, "message"),
            after=_query_int(request, "after"),
            limit=_query_int(request, "limit"),
        )
        body = {"comments": [mapping.comment_json(c) for c in page.comments], "next": page.next}
        return json_response(200, body)

    # -- rooms ------------------------------------------------------------------------

    async def create_room(self, request: Request) -> Response:
        session = self._session(request)
        body = await read_json(request)
        room = await self.service.rooms.create(
            session, name=body.get("name"), members=body.get("members")
        )
        return json_response(201, {"room": mapping.room_json(room)})

    async def rooms(self, request: Request) -> Response:
        rooms = self.service.rooms.list(self._session(request))
        return json_response(200, {"rooms": [mapping.room_json(r) for r in rooms]})

    async def invite(self, request: Request) -> Response:
        session = self._session(request)
        body = await read_json(request)
        added, room = await self.service.rooms.invite(
            session, request.path_params["room"], name=body.get("name")
        )
        return json_response(201 if added else 200, {"room": mapping.room_json(room)})

    async def leave(self, request: Request) -> Response:
        session = self._session(request)
        await _optional_json(request)
        await self.service.rooms.leave(session, request.path_params["room"])
        return empty()

    async def create_link(self, request: Request) -> Response:
        session = self._session(request)
        await _optional_json(request)
        link = await self.service.rooms.create_link(session, request.path_params["room"])
        body = {"room": link.room, "token": link.token, "path": f"/join/{link.token}"}
        return json_response(201, body)

    async def revoke_link(self, request: Request) -> Response:
        session = self._session(request)
        params = request.path_params
        await self.service.rooms.revoke_link(session, params["room"], params["token"])
        return empty()

    async def join(self, request: Request) -> Response:
        session = self._session(request)
        await _optional_json(request)
        joined = await self.service.rooms.join(session, request.path_params["token"])
        status = 200 if joined.status == "member" else 202
        return json_response(status, {"request": mapping.request_json(joined)})

    async def requests(self, request: Request) -> Response:
        pending = self.service.rooms.requests(self._session(request), request.path_params["room"])
        return json_response(200, {"requests": [mapping.request_json(r) for r in pending]})

    async def decide(self, request: Request) -> Response:
        session = self._session(request)
        body = await read_json(request)
        params = request.path_params
        decided = await self.service.rooms.decide(
            session, params["room"], params["name"], approve=body.get("approve")
        )
        return json_response(200, {"request": mapping.request_json(decided)})

    # -- files ------------------------------------------------------------------------

    async def upload(self, request: Request) -> Response:
        session = self._session(request)
        declared = request.headers.get("content-length")
        plan = self.service.files.check_upload(
            session,
            room=request.query_one("room"),
            to=request.query_one("to"),
            name=request.query_one("name"),
            content_type=request.headers.get("content-type"),
            text=request.query_one("text"),
            declared_bytes=int(declared) if declared is not None else None,
        )
        message = await self.service.files.upload(
            session,
            plan,
            request.stream(),
            idempotency_key=request.headers.get("idempotency-key"),
        )
        return json_response(201, {"message": mapping.message_json(message)})

    async def download(self, request: Request) -> Response:
        session = self._session(request)
        file = self.service.files.find(session, _path_id(request, "message"))
        cache = (("ETag", etag(file.sha256)), ("Cache-Control", "private, max-age=0"))
        if not_modified(request.headers.get("if-none-match"), file.sha256):
            return empty(304, headers=cache)
        # The uploader chose the type: browsers must not sniff it into something else.
        headers = (*cache, ("X-Content-Type-Options", "nosniff"))
        return stream_response(
            200,
            await self.service.files.open(file),
            content_type=file.content_type,
            content_length=file.size,
            headers=(("Content-Disposition", content_disposition(file.name)), *headers),
        )

    # -- moderation ---------------------------------------------------------------------

    async def report(self, request: Request) -> Response:
        session = self._session(request)
        body = await _optional_json(request)
        name = request.path_params["name"]
        banned = await self.service.moderation.report(session, name, reason=body.get("reason"))
        return json_response(202, {"user": name, "banned": banned})

    # -- synchronisation --------------------------------------------------------------

    async def events(self, request: Request) -> Response:
        session = self._session(request)
        after = _query_int(request, "after", required=True)
        assert after is not None
        page = await self.service.polling.poll(
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
