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

from collections.abc import Awaitable, Callable

from attrs import frozen

from app import ChatService, Session, Settings
from transport.api.auth import bearer_token
from transport.api.openapi import Operation
from transport.server import Handler, Request, Response

__all__ = ["Api", "Endpoint", "Handle", "Describe", "endpoint"]


@frozen(kw_only=True)
class Api:
    """What every handler is given: the service, its settings, the documents it serves."""

    service: ChatService
    settings: Settings
    openapi_json: bytes = b""
    docs_html: bytes = b""
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
