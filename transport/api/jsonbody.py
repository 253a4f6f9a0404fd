"""JSON bodies in and out: compact UTF-8 JSON, and request bodies that may be left out."""

from __future__ import annotations

import json
from typing import Any

from transport.server import Request, read_json

__all__ = ["dumps", "optional_json"]


def dumps(obj: object) -> bytes:
    """Compact UTF-8 JSON, as every response body.

    Raises TypeError when `obj` is not JSON-serialisable.
    """
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


async def optional_json(request: Request) -> dict[str, Any]:
    """A JSON object body, or `{}` when the body is left out (no Content-Type, no bytes).

    Raises the HttpError of `read_json` for a body that is there but not a
    JSON object (`400 bad_json`, `415 unsupported_media_type`, `413`).
    """
    if request.headers.get("content-type") is None and not await request.body():
        return {}
    return await read_json(request)
