"""Files: upload one as a message, download a message's file (`app.files`).

An upload is checked from its head alone (`service.files.check_upload`)
before a byte of its body is read, so that a refused one costs nothing and
`100 Continue` goes only to acceptable ones. The headers of a download are
in `transport.api.disposition`. A file's shape (`FileInfo`) is part of a
message's, in `transport.api.messages`.
"""

from __future__ import annotations

from typing import Final

from app import Settings
from transport.api.disposition import content_disposition, etag, not_modified, served_as
from transport.api.endpoint import Api, endpoint
from transport.api.forms import QUERY_TEXT_PATTERN, file_name_schema, in_query, text_schema
from transport.api.messages import (
    BANNED,
    BLOCKED,
    IDEMPOTENCY_KEY,
    MAX_FILE_NAME_BYTES,
    MESSAGE_ID,
    RATE_LIMITED,
    message_json,
)
from transport.api.openapi import (
    VALIDATION,
    Failure,
    Operation,
    Parameter,
    Reply,
    error_example,
    ref,
)
from transport.api.params import path_id
from transport.server import Request, Response, empty, json_response, stream_response

__all__ = ["RAW_MEDIA_TYPE", "upload", "download"]

RAW_MEDIA_TYPE: Final = "application/octet-stream"
TAG: Final = "Files"

_SHA256_EXAMPLE: Final = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
_FILE_MESSAGE_EXAMPLE: Final = {
    "id": 23,
    "room": "g19",
    "author": "alice",
    "text": "notes.txt",
    "ts": 1763900000.123,
    "comments": 0,
    "file": {
        "name": "notes.txt",
        "size": 3,
        "content_type": "text/plain; charset=utf-8",
        "sha256": _SHA256_EXAMPLE,
    },
}
_ETAG: Final = {"type": "string", "pattern": '^"[0-9a-f]{64}"$'}


def _upload_operation(settings: Settings) -> Operation:
    return Operation(
        operation_id="upload",
        tag=TAG,
        summary="Send a file as a message",
        description="The body is the file's raw bytes (with `Content-Length`, or chunked), "
        "not JSON (no body: an empty file); its `Content-Type` is the file's media type, any "
        f"type is accepted (default `{RAW_MEDIA_TYPE}`). The request is checked before a byte "
        "of the body is read (and `100 Continue` is sent only then); the bytes are stored "
        "before the message is appended.",
        parameters=(
            Parameter(
                name="upload",
                location="query",
                required=True,
                style="form",
                explode=True,
                schema={
                    "type": "object",
                    "required": ["name"],
                    "properties": {
                        "name": in_query(file_name_schema(MAX_FILE_NAME_BYTES)),
                        "room": ref("RoomId"),
                        "to": ref("Name"),
                        "text": in_query(text_schema(settings)),
                    },
                    "not": {"required": ["room", "to"]},
                    # Other names are ignored; but no name or value holds a control character.
                    "propertyNames": {"pattern": QUERY_TEXT_PATTERN},
                    "additionalProperties": {"type": "string", "pattern": QUERY_TEXT_PATTERN},
                },
                description="The query: the file's `name`; `room` (default `general`) or `to` "
                "(a user, for a direct message), not both; the message's `text` (default: the "
                "file's name). A query parameter of another name is ignored. No query value "
                "may hold a control character (`400 bad_request`).",
                example={"room": "general", "name": "notes.txt", "text": "the notes"},
            ),
            IDEMPOTENCY_KEY,
        ),
        # Any bytes are a file (none: an empty one), so the body has no type to break.
        body={
            "contentMediaType": RAW_MEDIA_TYPE,
            "description": f"At most {settings.max_file_bytes} bytes.",
        },
        body_media_type=RAW_MEDIA_TYPE,
        body_also_as=("*/*",),
        body_required=False,
        replies=(
            Reply(
                status=201,
                description="The file is stored and its message is durable.",
                schema=ref("Sent"),
                example={"message": _FILE_MESSAGE_EXAMPLE},
            ),
        ),
        failures=(
            Failure(
                status=400,
                codes={
                    VALIDATION: "`field` is `name`, `Content-Type` (not a media type), "
                    "`text`, `to` (both `room` and `to`, not a valid name, or yourself) or "
                    "`Idempotency-Key`"
                },
                example=error_example(VALIDATION, "a file name must not be empty", field="name"),
            ),
            Failure(status=403, codes={"not_member": "the caller is not in the group room"}),
            BANNED,
            BLOCKED,
            Failure(status=404, codes={"not_found": "no such room, or no such user (`to`)"}),
            Failure(
                status=413,
                codes={
                    "too_large": f"the file is over {settings.max_file_bytes} bytes: "
                    "decided from `Content-Length` before the body is read, or as soon as "
                    "a chunked body passes the limit; nothing is stored"
                },
            ),
            RATE_LIMITED,
        ),
    )


@endpoint(_upload_operation)
async def upload(api: Api, request: Request) -> Response:
    session = api.session(request)
    plan = api.service.files.check_upload(
        session,
        room=request.query_one("room"),
        to=request.query_one("to"),
        name=request.query_one("name"),
        content_type=request.headers.get("content-type"),
        text=request.query_one("text"),
        declared_bytes=request.content_length,  # checked by the HTTP layer
    )
    message = await api.service.files.upload(
        session,
        plan,
        request.stream(),
        idempotency_key=request.headers.get("idempotency-key"),
    )
    return json_response(201, {"message": message_json(message)})


def _download_operation(settings: Settings) -> Operation:
    return Operation(
        operation_id="download",
        tag=TAG,
        summary="Download a message's file",
        description="Members of the message's room only. The body is the file's bytes "
        "with the `Content-Type` it was uploaded with, except that types a browser would "
        "run or parse as a document (HTML, XHTML, SVG, any XML, JavaScript, PDF) are "
        "`application/octet-stream`. Only PNG, JPEG, GIF and WebP images are `inline`; "
        "everything else is an `attachment`. Every download carries "
        "`Content-Security-Policy: sandbox` and `X-Content-Type-Options: nosniff`. "
        "`ETag` is its SHA-256 in quotes.",
        parameters=(
            MESSAGE_ID,
            Parameter(
                name="If-None-Match",
                location="header",
                schema={"type": "string"},
                description="An `ETag` from an earlier download: `304` when it matches.",
                example=f'"{_SHA256_EXAMPLE}"',
            ),
        ),
        replies=(
            Reply(
                status=200,
                description="The file's bytes.",
                # In the media type it was uploaded with: JSON, if that is what it was.
                schema={"description": "The file's bytes, exactly as uploaded."},
                media_type="*/*",
                headers={
                    "Content-Disposition": {
                        "type": "string",
                        "description": "`attachment` (`inline` for PNG, JPEG, GIF and "
                        "WebP images) with an ASCII `filename`; names "
                        'beyond printable ASCII (or with `"`, `\\`, `%`) also get an '
                        "RFC 8187 `filename*`.",
                    },
                    "ETag": _ETAG,
                    "X-Content-Type-Options": {"const": "nosniff"},
                    "Content-Security-Policy": {"const": "sandbox"},
                    "Content-Length": {"type": "string", "pattern": "^[0-9]+$"},
                },
            ),
            Reply(
                status=304,
                description="`If-None-Match` matches: the client's copy is current.",
                headers={"ETag": _ETAG},
            ),
        ),
        failures=(
            Failure(status=403, codes={"not_member": "the caller is not in the message's room"}),
            Failure(
                status=404,
                codes={"not_found": "no such message, expired, or it carries no file"},
            ),
        ),
    )


@endpoint(_download_operation)
async def download(api: Api, request: Request) -> Response:
    session = api.session(request)
    file = api.service.files.find(session, path_id(request, "message"))
    cache = (("ETag", etag(file.sha256)), ("Cache-Control", "private, max-age=0"))
    if not_modified(request.headers.get("if-none-match"), file.sha256):
        return empty(304, headers=cache)
    # The uploader chose the type: browsers must not sniff it into something else, run
    # it as a document of our origin (sandbox: a unique origin, no scripts), nor even
    # parse it when it is a type that can hold scripts (served as opaque bytes).
    content_type, inline = served_as(file.content_type)
    headers = (
        *cache,
        ("X-Content-Type-Options", "nosniff"),
        ("Content-Security-Policy", "sandbox"),
        ("Content-Disposition", content_disposition(file.name, inline=inline)),
    )
    return stream_response(
        200,
        await api.service.files.open(file),
        content_type=content_type,
        content_length=file.size,
        headers=headers,
    )
