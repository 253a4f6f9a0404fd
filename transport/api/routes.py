"""The route table of the chat API: every endpoint of API.md, its handler and its limits.

How this works: `ROUTES` is the one table. The router (`router`) and the
OpenAPI document (`openapi_document`) are both built from it, each row's
operation coming from its handler's declaration (`transport.api.endpoint`),
so every routed operation is documented and nothing else is. A handler
lives in the module of its feature, named like `app/`'s: `POST /send` is
`messages.send`, in `transport/api/messages.py`.
"""

from __future__ import annotations

import enum
from functools import partial
from typing import Any, Final

from attrs import frozen

from app import Settings
from transport.api import (
    edits,
    files,
    forms,
    identity,
    messages,
    moderation,
    polling,
    rooms,
    schedule,
    search,
    service,
    streams,
    webclient,
)
from transport.api.endpoint import Api, Endpoint
from transport.api.errors import guarded
from transport.api.openapi import RoutedOperation, Schema, build_document
from transport.server import Router

__all__ = ["Body", "Route", "ROUTES", "router", "routed_operations", "openapi_document"]


class Body(enum.Enum):
    """What body a route takes, and so the most bytes of it the server reads."""

    NONE = "none"  # any body at all is 413
    DEFAULT = "default"  # none expected (GET): the HTTP layer's default limit
    JSON = "json"  # a JSON object: `default_max_body_bytes`
    FILE = "file"  # the raw bytes of an upload: `max_file_bytes`

    def max_bytes(self, settings: Settings) -> int | None:
        """The route's limit in bytes; None leaves the HTTP layer's default."""
        match self:
            case Body.NONE:
                return 0
            case Body.DEFAULT:
                return None
            case Body.JSON:
                return settings.default_max_body_bytes
            case Body.FILE:
                return settings.max_file_bytes


@frozen
class Route:
    """One row of the table: method, path, handler, body, and whether it is a long poll."""

    method: str
    path: str
    endpoint: Endpoint
    body: Body
    long_poll: bool = False


LONG_POLL: Final = True  # the handler is cancelled when the client goes away

# fmt: off
ROUTES: Final = (
    #     method    path                             handler               body          long poll?
    Route("POST",   "/connect",                      identity.connect,     Body.JSON),
    Route("POST",   "/disconnect",                   identity.disconnect,  Body.NONE),
    Route("GET",    "/status",                       identity.status,      Body.DEFAULT),
    Route("GET",    "/sessions",                     identity.sessions,    Body.DEFAULT),
    Route("DELETE", "/sessions/{id}",                identity.revoke,      Body.NONE),
    Route("POST",   "/send",                         messages.send,        Body.JSON),
    Route("GET",    "/rooms/{room}/messages",        messages.history,     Body.DEFAULT),
    Route("GET",    "/scheduled",                    schedule.pending,     Body.DEFAULT),
    Route("DELETE", "/scheduled/{id}",               schedule.cancel,      Body.NONE),
    Route("POST",   "/messages/{id}/comments",       messages.comment,     Body.JSON),
    Route("GET",    "/messages/{id}/comments",       messages.comments,    Body.DEFAULT),
    Route("PATCH",  "/messages/{id}",                edits.edit,           Body.JSON),
    Route("DELETE", "/messages/{id}",                edits.delete,         Body.NONE),
    Route("GET",    "/search",                       search.search,        Body.DEFAULT),
    Route("POST",   "/rooms",                        rooms.create,         Body.JSON),
    Route("GET",    "/rooms",                        rooms.list_rooms,     Body.DEFAULT),
    Route("POST",   "/rooms/{room}/members",         rooms.invite,         Body.JSON),
    Route("POST",   "/rooms/{room}/leave",           rooms.leave,          Body.JSON),
    Route("POST",   "/rooms/{room}/links",           rooms.create_link,    Body.JSON),
    Route("DELETE", "/rooms/{room}/links/{token}",   rooms.revoke_link,    Body.NONE),
    Route("POST",   "/join/{token}",                 rooms.join,           Body.JSON),
    Route("GET",    "/rooms/{room}/requests",        rooms.requests,       Body.DEFAULT),
    Route("POST",   "/rooms/{room}/requests/{name}", rooms.decide,         Body.JSON),
    Route("POST",   "/users/{name}/report",          moderation.report,    Body.JSON),
    Route("POST",   "/users/{name}/block",           moderation.block,     Body.NONE),
    Route("DELETE", "/users/{name}/block",           moderation.unblock,   Body.NONE),
    Route("GET",    "/blocked",                      moderation.blocked,   Body.DEFAULT),
    Route("POST",   "/files",                        files.upload,         Body.FILE),
    Route("GET",    "/messages/{id}/file",           files.download,       Body.DEFAULT),
    Route("GET",    "/events",                       polling.events,       Body.DEFAULT, LONG_POLL),
    Route("GET",    "/events/stream",                streams.stream,       Body.DEFAULT),
    Route("GET",    "/health",                       service.health,       Body.DEFAULT),
    Route("GET",    "/openapi.json",                 service.openapi_json, Body.DEFAULT),
    Route("GET",    "/docs",                         service.docs,         Body.DEFAULT),
    Route("GET",    "/metrics",                      service.metrics,      Body.DEFAULT),
    Route("GET",    "/",                             webclient.page,       Body.DEFAULT),
    Route("GET",    "/web/{asset}",                  webclient.asset,      Body.DEFAULT),
)
# fmt: on

# Every feature's component schemas; operations refer to them by name.
_SCHEMAS: Final = (
    forms.schemas,
    identity.schemas,
    messages.schemas,
    edits.schemas,
    rooms.schemas,
    schedule.schemas,
    moderation.schemas,
    polling.schemas,
    service.schemas,
)


def router(api: Api, routed: Router | None = None) -> Router:
    """Every route, each handler bound to `api` and guarded (`errors.guarded`).

    The routes are added to `routed` (a new router by default; /metrics
    passes one that counts and times every route). Raises ValueError when
    the table routes one method and path twice.
    """
    routed = routed or Router()
    for route in ROUTES:
        routed.add(
            route.method,
            route.path,
            guarded(partial(route.endpoint.handle, api), api.service.core.catch_up),
            max_body_bytes=route.body.max_bytes(api.settings),
            cancel_on_disconnect=route.long_poll,
        )
    return routed


def routed_operations(settings: Settings) -> tuple[RoutedOperation, ...]:
    """The operation of every route, at its method and path, limits from `settings`."""
    return tuple(
        RoutedOperation(
            method=route.method.lower(),
            path=route.path,
            operation=route.endpoint.describe(settings),
        )
        for route in ROUTES
    )


def component_schemas(settings: Settings) -> dict[str, Schema]:
    """Every feature's component schemas, limits from `settings`.

    Raises ValueError when two features use the same schema name.
    """
    merged: dict[str, Schema] = {}
    for schemas_of in _SCHEMAS:
        for name, schema in schemas_of(settings).items():
            if name in merged:
                raise ValueError(f"schema {name} is declared twice")
            merged[name] = schema
    return merged


def openapi_document(settings: Settings | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1.0 document of every route, its limits taken from `settings`.

    A fresh dict on every call: the caller may change it.
    """
    settings = settings or Settings()
    return build_document(routed_operations(settings), component_schemas(settings))
