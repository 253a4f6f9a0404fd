"""`ChatApi`: the chat API bound to one service, with the documents it serves."""

from __future__ import annotations

from app import ChatService, Settings
from transport.api import routes
from transport.api.docs_page import render_docs
from transport.api.endpoint import Api, Documents
from transport.api.jsonbody import dumps
from transport.server import Handler, Router

__all__ = ["ChatApi"]


class ChatApi:
    """The handlers of `transport.api.routes`, bound to one service and its settings."""

    def __init__(
        self, service: ChatService, settings: Settings, *, metrics: Handler | None = None
    ) -> None:
        def build() -> tuple[bytes, bytes]:
            document = routes.openapi_document(settings)
            return dumps(document), render_docs(document).encode("utf-8")

        self.api = Api(
            service=service, settings=settings, documents=Documents(build), metrics=metrics
        )

    def router(self, routed: Router | None = None) -> Router:
        """Every route of the table, added to `routed` (a new router by default).

        Raises ValueError when the table routes one method and path twice.
        """
        return routes.router(self.api, routed)
