"""The chat API over our HTTP/1.1: routes, JSON mapping, OpenAPI, and `run_server`."""

from transport.api.routes import ChatApi
from transport.api.server import http_limits, run_server, start_api, stop_api

__all__ = ["ChatApi", "http_limits", "run_server", "start_api", "stop_api"]
