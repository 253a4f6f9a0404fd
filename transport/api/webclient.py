"""The web client: `GET /` (its page) and `GET /web/{asset}` (its scripts and style sheet).

The files are package data (`transport/api/web/`), read once when first
asked for and served from memory; nothing is fetched from anywhere else.
Every answer carries a strict `Content-Security-Policy` (scripts and
styles from this origin only: no inline script, no inline style, no
eval), `nosniff`, no referrer and no framing. The page names the upload
limit in a `<meta>` element, so that the client refuses a file over it
before sending a byte.
"""

from __future__ import annotations

import functools
import html
import re
from importlib import resources
from typing import Final

from app import Settings
from transport.api.endpoint import Api, endpoint
from transport.api.openapi import Failure, Operation, Reply, path_parameter
from transport.http import HttpError
from transport.server import Request, Response

__all__ = ["CONTENT_SECURITY_POLICY", "asset", "assets", "page"]

TAG: Final = "Web client"
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_ASSET_NAME: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}\.(?:js|css|svg)")
_TYPES: Final = {
    "js": "text/javascript; charset=utf-8",
    "css": "text/css; charset=utf-8",
    "svg": "image/svg+xml",  # our own icon, under the same policy as the page
}
_LIMIT_MARK: Final = "{{max_file_bytes}}"
_SECURITY_HEADERS: Final = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Cache-Control", "no-cache"),
)


@functools.cache
def assets() -> dict[str, bytes]:
    """The web client's files by name (`index.html` and the assets), read once."""
    folder = resources.files("transport.api") / "web"
    return {
        item.name: item.read_bytes()
        for item in folder.iterdir()
        if item.is_file() and (item.name == "index.html" or _ASSET_NAME.fullmatch(item.name))
    }


def _page_operation(settings: Settings) -> Operation:
    return Operation(
        operation_id="webClient",
        tag=TAG,
        summary="The web client",
        description="A single-page chat client (plain JavaScript modules from `/web/`), "
        "served with a strict `Content-Security-Policy`. It signs in with `POST /connect`, "
        "keeps the token in the tab's `sessionStorage` and follows `/events/stream`. "
        "No authentication.",
        auth=False,
        replies=(
            Reply(
                status=200,
                description="The page.",
                schema={"type": "string"},
                media_type="text/html",
                headers={"Content-Security-Policy": {"const": CONTENT_SECURITY_POLICY}},
            ),
        ),
    )


@endpoint(_page_operation)
async def page(api: Api, request: Request) -> Response:
    text = assets()["index.html"].decode("utf-8")
    text = text.replace(_LIMIT_MARK, html.escape(str(api.settings.max_file_bytes)))
    return Response(
        status=200,
        headers=(("Content-Type", "text/html; charset=utf-8"), *_SECURITY_HEADERS),
        body=text.encode("utf-8"),
    )


def _asset_operation(settings: Settings) -> Operation:
    return Operation(
        operation_id="webAsset",
        tag=TAG,
        summary="A script, style sheet or icon of the web client",
        description="JavaScript modules, CSS and the icon, shipped with the server. "
        "No authentication.",
        auth=False,
        parameters=(
            path_parameter(
                "asset",
                {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,63}\\.(js|css|svg)$"},
                "The file's name.",
                "app.js",
            ),
        ),
        replies=(
            Reply(
                status=200,
                description="The file.",
                schema={"type": "string"},
                media_type="text/javascript",
            ),
        ),
        failures=(Failure(status=404, codes={"not_found": "no such file"}),),
    )


@endpoint(_asset_operation)
async def asset(api: Api, request: Request) -> Response:
    name = request.path_params["asset"]
    body = assets().get(name) if _ASSET_NAME.fullmatch(name) else None
    if body is None:
        raise HttpError(404, "not_found", "no such file of the web client")
    return Response(
        status=200,
        headers=(("Content-Type", _TYPES[name.rsplit(".", 1)[1]]), *_SECURITY_HEADERS),
        body=body,
    )
