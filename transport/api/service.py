"""The service endpoints: `GET /health`, and this API's own description (`/openapi.json`, `/docs`).

None needs a token. The two documents are built once, when the API is
(`transport.api.chat_api`), and handed to these handlers in `Api`.
"""

from __future__ import annotations

from typing import Final

from app import Settings
from transport.api.endpoint import Api, endpoint
from transport.api.openapi import Failure, Operation, Reply, Schema, object_schema, ref
from transport.api.polling import LOG_EXAMPLE
from transport.http import HttpError
from transport.server import Request, Response, json_response

__all__ = ["health", "openapi_json", "docs", "schemas"]

TAG: Final = "Service"


def schemas(settings: Settings) -> dict[str, Schema]:
    """The component schemas of the service endpoints."""
    offset = {"type": "integer", "minimum": 0}
    return {
        "Health": object_schema(
            ["status", "offset", "log"],
            {"status": {"const": "ok"}, "offset": offset, "log": {"type": "string"}},
        ),
    }


def _health_operation(settings: Settings) -> Operation:
    return Operation(
        operation_id="health",
        tag=TAG,
        summary="Liveness and the head of the log",
        description="No authentication.",
        auth=False,
        replies=(
            Reply(
                status=200,
                description="The server is up.",
                schema=ref("Health"),
                example={"status": "ok", "offset": 17, "log": LOG_EXAMPLE},
            ),
        ),
    )


@endpoint(_health_operation)
async def health(api: Api, request: Request) -> Response:
    health = api.service.health()
    return json_response(200, {"status": "ok", "offset": health.offset, "log": health.log})


def _openapi_operation(settings: Settings) -> Operation:
    return Operation(
        operation_id="openapi",
        tag=TAG,
        summary="This document",
        description="OpenAPI 3.1; no authentication.",
        auth=False,
        replies=(
            Reply(
                status=200,
                description="The OpenAPI document.",
                schema={"type": "object", "required": ["openapi", "paths"]},
            ),
        ),
    )


@endpoint(_openapi_operation)
async def openapi_json(api: Api, request: Request) -> Response:
    document, _ = await api.documents.get()
    return Response(
        status=200, headers=(("Content-Type", "application/json; charset=utf-8"),), body=document
    )


def _docs_operation(settings: Settings) -> Operation:
    return Operation(
        operation_id="docs",
        tag=TAG,
        summary="This document as a web page",
        description="Self-contained HTML; no authentication.",
        auth=False,
        replies=(
            Reply(
                status=200,
                description="The documentation page.",
                schema={"type": "string"},
                media_type="text/html",
            ),
        ),
    )


@endpoint(_docs_operation)
async def docs(api: Api, request: Request) -> Response:
    _, page = await api.documents.get()
    return Response(status=200, headers=(("Content-Type", "text/html; charset=utf-8"),), body=page)


def _metrics_operation(settings: Settings) -> Operation:
    where = {"api": "here", "off": "nowhere (`--metrics off`)"}.get(
        settings.metrics, f"on {settings.metrics} instead (`--metrics`)"
    )
    return Operation(
        operation_id="metrics",
        tag=TAG,
        summary="What this server does, for Prometheus",
        description="The Prometheus text format (`prometheus-client`): requests by route "
        "pattern and status, latency histograms, events appended, group-commit rounds and "
        "their time, connections, parked polls, how far a replica is behind its stream, "
        f"and the process's CPU and memory. No authentication. Served {where}; where it is "
        "not served here, `404 not_found`.",
        auth=False,
        replies=(
            Reply(
                status=200,
                description="The metrics.",
                schema={"type": "string"},
                media_type="text/plain",
            ),
        ),
        failures=(Failure(status=404, codes={"not_found": "metrics are not served here"}),),
    )


@endpoint(_metrics_operation)
async def metrics(api: Api, request: Request) -> Response:
    if api.metrics is None:
        raise HttpError(404, "not_found", "metrics are not served here (see --metrics)")
    return await api.metrics(request)
