"""`POST /files` and `GET /messages/{id}/file`: raw bytes in, any media type out."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from app import open_service
from tests.transport.api.support import quick_settings, send_raw
from transport.api.routes import openapi_document
from transport.serve import start_api, stop_api


def test_uploads_are_raw_bytes_and_downloads_any_media_type() -> None:
    document = openapi_document()
    upload = document["paths"]["/files"]["post"]
    assert set(upload["requestBody"]["content"]) == {"application/octet-stream", "*/*"}
    assert "415" not in upload["responses"]  # any Content-Type is a file's type
    assert "`too_large`" in upload["responses"]["413"]["description"]
    assert upload["responses"]["429"]["headers"]["Retry-After"]["required"] is True
    download = document["paths"]["/messages/{id}/file"]["get"]
    assert set(download["responses"]["200"]["content"]) == {"*/*"}
    headers = download["responses"]["200"]["headers"]
    for name in ("Content-Disposition", "ETag", "X-Content-Type-Options", "Content-Length"):
        assert headers[name]["required"] is True
    assert "content" not in download["responses"]["304"]


# ------------------------------------------------- the length an upload declares

MAX_FILE_BYTES = 16


async def exchange(port: int, request: bytes) -> tuple[int, dict[str, Any]]:
    """Send one raw request (it asks to close); the status and the JSON body of the answer."""
    head, _, body = (await send_raw(port, request)).partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body)


def upload_with(token: str, length_fields: list[str], body: bytes) -> bytes:
    head = [
        "POST /files?name=a.txt HTTP/1.1",
        "Host: chat",
        f"Authorization: Bearer {token}",
        "Connection: close",
        *(f"Content-Length: {value}" for value in length_fields),
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def uploads(tmp_path: Path, requests: list[tuple[list[str], bytes]]) -> list[tuple[int, Any]]:
    """Connect, then upload once per request on a live server; each answer's status and body."""

    async def scenario() -> list[tuple[int, Any]]:
        settings = quick_settings(tmp_path / "data", max_file_bytes=MAX_FILE_BYTES)
        service = await open_service(settings)
        server = await start_api(service, settings)
        try:
            login = json.dumps({"name": "alice", "password": "pw"}).encode()
            connect = (
                "POST /connect HTTP/1.1\r\nHost: chat\r\nConnection: close\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(login)}\r\n\r\n"
            ).encode() + login
            _, connected = await exchange(server.port, connect)
            token = connected["token"]
            return [
                await exchange(server.port, upload_with(token, fields, body))
                for fields, body in requests
            ]
        finally:
            await stop_api(server, service)

    return asyncio.run(scenario())


@pytest.mark.parametrize(
    "length_fields",
    [["3"], ["3, 3"], ["3,3"], ["3 ,\t3, 3"], ["3", "3"], ["3", "3, 3"]],
    ids=repr,
)
def test_an_upload_may_repeat_its_content_length(tmp_path: Path, length_fields: list[str]) -> None:
    # RFC 9110 section 8.6: a list of equal values is one length (the HTTP layer checks it).
    [(status, body)] = uploads(tmp_path, [(length_fields, b"abc")])
    assert status == 201, body
    assert body["message"]["file"]["size"] == 3


def test_a_repeated_content_length_over_the_limit_is_refused_before_the_body(
    tmp_path: Path,
) -> None:
    over = MAX_FILE_BYTES + 1
    [(status, body)] = uploads(tmp_path, [([f"{over}, {over}"], b"")])
    assert (status, body["error"]["code"]) == (413, "too_large")


def test_conflicting_content_lengths_are_the_http_layers_400(tmp_path: Path) -> None:
    [(status, body)] = uploads(tmp_path, [(["3, 4"], b"abc")])
    assert (status, body["error"]["code"]) == (400, "bad_request")
