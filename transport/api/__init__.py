"""The chat API over our HTTP/1.1: routes, JSON mapping and the OpenAPI document."""

from transport.api.routes import ChatApi

__all__ = ["ChatApi"]
