"""What a handler is: a function of the API's context and a request, declared with its operation.

A feature module writes each handler as `async def name(api, request)` and
declares what it does for the OpenAPI document right above it:

    def _send_operation(settings: Settings) -> Operation: ...

    @endpoint(_send_operation)
    async def send(api: Api, request: Request) -> Response: ...

The route table (`transport.api.routes`) puts each `Endpoint` at its method
and path; both the router and the document are built from that table.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from attrs import frozen

from app import ChatService, Session, Settings
from transport.api.auth import bearer_token
from transport.api.openapi import Operation
from transport.server import Handler, Request, Response

__all__ = ["Api", "Documents", "Endpoint", "Handle", "Describe", "endpoint"]


class Documents:
    """The OpenAPI document and its web page, built once, on the first request for either.

    Building them reads the whole Unicode database for the name and text
    patterns (about 0.3 s of CPU): a start does not wait for it, and the
    event loop keeps serving while a worker thread builds them.
    """

    def __init__(self, build: Callable[[], tuple[bytes, bytes]]) -> None:
        self._build = build
        self._built: asyncio.Future[tuple[bytes, bytes]] | None = None

    async def get(self) -> tuple[bytes, bytes]:
        """(the OpenAPI JSON, the HTML page); a request that goes away never stops the build."""
        if self._built is None:
            self._built = asyncio.ensure_future(asyncio.to_thread(self._build))
        return await asyncio.shield(self._built)


@frozen(kw_only=True)
class Api:
    """What every handler is given: the service, its settings, the documents it serves."""

    service: ChatService
    settings: Settings
    documents: Documents
    metrics: Handler | None = None  # GET /metrics on this port; None: served elsewhere or off

    def session(self, request: Request) -> Session:
        """The session of the request's bearer token.

        Raises UnauthorizedError for a missing, unknown or revoked token.
        """
        return self.service.identity.authenticate(bearer_token(request.headers))


Handle = Callable[[Api, Request], Awaitable[Response]]
Describe = Callable[[Settings], Operation]


@frozen
class Endpoint:
    """A handler with the operation that documents it."""

    handle: Handle
    describe: Describe


def endpoint(describe: Describe) -> Callable[[Handle], Endpoint]:
    """Declare a handler together with the function that describes it (never raises)."""

    def declare(handle: Handle) -> Endpoint:
        return Endpoint(handle, describe)

    return declare
