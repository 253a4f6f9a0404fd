"""`GET /health`, `/openapi.json` and `/docs`: no token, and each in its media type."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from app import open_service
from tests.transport.api.support import quick_settings, send_raw
from transport.api.docs_page import docs_page
from transport.api.routes import openapi_document
from transport.serve import start_api, stop_api


async def get(port: int, path: str) -> tuple[str, dict[str, str], bytes]:
    request = f"GET {path} HTTP/1.1\r\nHost: chat\r\nConnection: close\r\n\r\n".encode()
    answer = await send_raw(port, request)
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *fields = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (f.partition(":") for f in fields)}
    return status_line, headers, body


def test_the_service_endpoints_answer_without_a_token(tmp_path: Path) -> None:
    settings = quick_settings(tmp_path / "data", max_text_length=99)

    async def scenario() -> dict[str, tuple[str, dict[str, str], bytes]]:
        service = await open_service(settings)
        server = await start_api(service, settings)
        try:
            return {
                path: await get(server.port, path) for path in ("/health", "/openapi.json", "/docs")
            }
        finally:
            await stop_api(server, service)

    answers = asyncio.run(scenario())
    status, headers, body = answers["/health"]
    assert status == "HTTP/1.1 200 OK"
    health = json.loads(body)
    assert health["status"] == "ok"
    assert set(health) == {"status", "offset", "log"}
    status, headers, body = answers["/openapi.json"]
    assert (status, headers["content-type"]) == (
        "HTTP/1.1 200 OK",
        "application/json; charset=utf-8",
    )
    assert json.loads(body) == openapi_document(settings)
    status, headers, body = answers["/docs"]
    assert (status, headers["content-type"]) == ("HTTP/1.1 200 OK", "text/html; charset=utf-8")
    assert body == docs_page(settings)
