"""The OpenAPI 3.1 builder: the types an operation is declared with, and the document.

How this works: each feature module declares the `Operation` of every
handler right beside it (`transport.api.endpoint.endpoint`), as a function
of the settings so that documented limits are the configured ones, and
lists its component schemas in a `schemas(settings)` function. The route
table (`transport.api.routes.ROUTES`) gives each operation its method and
path; `build_document` turns those routed operations and the schemas into
the document served at `GET /openapi.json`. Nothing else goes in, so every
routed operation is documented and nothing else is.

Errors every operation shares are added here rather than repeated at each
operation: `401 unauthorized` on authenticated operations; `400 bad_json`,
`413 too_large` and `415 unsupported_media_type` on operations with a JSON
body; `400 bad_request` on operations with path parameters; and a `default`
error response for what the HTTP layer itself may answer with (`408`, `431`,
`500 internal`, `503 unavailable`, ...).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from attrs import field, frozen

__all__ = [
    "JSON_MEDIA_TYPE",
    "VALIDATION",
    "Schema",
    "ref",
    "array_of",
    "object_schema",
    "event_schema",
    "error_example",
    "Parameter",
    "path_parameter",
    "Reply",
    "Failure",
    "Operation",
    "RoutedOperation",
    "build_document",
]

JSON_MEDIA_TYPE: Final = "application/json"
SECURITY_SCHEME: Final = "bearerAuth"
API_VERSION: Final = "1.0.0"
VALIDATION: Final = "validation_failed"

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    """A reference to `components/schemas/<name>`."""
    return {"$ref": f"#/components/schemas/{name}"}


def array_of(item: Schema, **constraints: Any) -> Schema:
    """An array schema of `item`."""
    return {"type": "array", "items": item, **constraints}


def object_schema(required: list[str], properties: Mapping[str, Schema], **more: Any) -> Schema:
    """An object schema with these required names and properties (others are allowed)."""
    return {"type": "object", "required": required, "properties": dict(properties), **more}


def event_schema(event_type: str, description: str, fields: Mapping[str, Schema]) -> Schema:
    """The schema of one event type of `/events`: `offset`, `ts`, `type` and its fields."""
    return {
        "type": "object",
        "description": description,
        "required": ["offset", "ts", "type", *fields],
        "properties": {
            "offset": {"type": "integer", "minimum": 1, "description": "Offset in the log."},
            "ts": {"type": "number", "description": "When the server appended it (Unix s)."},
            "type": {"const": event_type},
            **fields,
        },
    }


def error_example(code: str, message: str, **extra: Any) -> dict[str, Any]:
    """An error body as the API answers it."""
    return {"error": {"code": code, "message": message, **extra}}


@frozen(kw_only=True)
class Parameter:
    """A path, query or header parameter."""

    name: str
    location: str  # "path", "query" or "header"
    schema: Schema
    description: str
    required: bool = False
    example: Any = None
    allow_empty_value: bool = False  # an empty value (`?limit=`) is the same as none
    style: str | None = None  # "form" with `explode` spreads an object over the query
    explode: bool | None = None


def path_parameter(name: str, schema: Schema, description: str, example: Any) -> Parameter:
    """A (required) path parameter."""
    return Parameter(
        name=name,
        location="path",
        required=True,
        schema=schema,
        description=description,
        example=example,
    )


@frozen(kw_only=True)
class Reply:
    """A success response: its status, body schema (None: no body) and an example."""

    status: int
    description: str
    schema: Schema | None = None
    example: Any = None
    media_type: str = JSON_MEDIA_TYPE
    headers: Mapping[str, Schema] = field(factory=dict)  # always sent with this reply


@frozen(kw_only=True)
class Failure:
    """An error response: its status and the error codes the body may carry, with why."""

    status: int
    codes: Mapping[str, str]  # code -> when it is answered
    example: Any = None
    headers: Mapping[str, Schema] = field(factory=dict)


@frozen(kw_only=True)
class Operation:
    """What one handler does, as the document tells it (the route table adds method and path)."""

    operation_id: str
    tag: str
    summary: str
    description: str
    auth: bool = True
    parameters: tuple[Parameter, ...] = ()
    body: Schema | None = None
    body_example: Any = None
    body_media_type: str = JSON_MEDIA_TYPE  # another type: a raw body, no JSON body errors
    body_also_as: tuple[str, ...] = ()  # more media types the same body may have ("*/*")
    body_required: bool = True
    replies: tuple[Reply, ...] = ()
    failures: tuple[Failure, ...] = ()


@frozen(kw_only=True)
class RoutedOperation:
    """An operation at its method (lower case, as in the document) and path."""

    method: str
    path: str
    operation: Operation


# -------------------------------------------------------- shared error answers


def _error_schema() -> Schema:
    return {
        "type": "object",
        "description": "Every error answer. `code` is machine-readable; `message` is for "
        "humans; some codes add fields.",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "pattern": "^[a-z][a-z_]*$"},
                    "message": {"type": "string"},
                    "field": {
                        "type": "string",
                        "description": "With `validation_failed`: the offending field.",
                    },
                    "head": {
                        "type": "integer",
                        "description": "With `offset_out_of_range`: the current head.",
                    },
                    "log": {
                        "type": "string",
                        "description": "With `log_mismatch`: this server's log id.",
                    },
                    "until": {
                        "type": "number",
                        "description": "With `banned`: when the ban ends (Unix s).",
                    },
                    "retry_after": {
                        "type": "number",
                        "description": "With `rate_limited`: seconds until the window ends.",
                    },
                    "max_bytes": {
                        "type": "integer",
                        "description": "With `too_large`: the most bytes the body may have.",
                    },
                    "size": {
                        "type": "integer",
                        "description": "With `too_large`, when the body announced it: its size.",
                    },
                },
            },
        },
        "examples": [error_example(VALIDATION, "text must not be empty", field="text")],
    }


_UNAUTHORIZED: Final = Failure(
    status=401,
    codes={"unauthorized": "missing, unknown or revoked token"},
    example=error_example("unauthorized", "missing or invalid bearer token"),
    headers={"WWW-Authenticate": {"type": "string", "pattern": "^Bearer( |$)"}},
)
_JSON_BODY_FAILURES: Final = (
    Failure(status=400, codes={"bad_json": "the body is not a JSON object"}),
    Failure(status=413, codes={"too_large": "the body is larger than the limit"}),
    Failure(status=415, codes={"unsupported_media_type": "Content-Type is not application/json"}),
)
_BAD_PARAMETER: Final = Failure(
    status=400,
    codes={"bad_request": "a path or query parameter is not UTF-8 or holds a control character"},
)
# Every write may meet a spent budget of the caller's, or a server low on disk.
_WRITE_FAILURES: Final = (
    Failure(
        status=429,
        codes={
            "rate_limited": "a write budget of the caller's is spent (messages, comments, "
            "uploads, scheduling, room operations, reports); `retry_after` says when "
            "enough is back"
        },
        headers={"Retry-After": {"type": "string", "pattern": "^[0-9]+$"}},
    ),
    Failure(
        status=507,
        codes={
            "insufficient_storage": "the server's disk is below its free-space floor: "
            "nothing was written (reading works)"
        },
        headers={"Retry-After": {"type": "string", "pattern": "^[0-9]+$"}},
    ),
)
_DEFAULT_ERROR_DESCRIPTION: Final = (
    "Errors of the HTTP layer: 400 `bad_request` (malformed request), 408 `timeout`, "
    "413 `too_large` (a body over the operation's limit; any body where it takes none), "
    "414 `uri_too_long`, 417 `expectation_failed`, 431 `headers_too_large`, 500 `internal`, "
    "501 `not_implemented`, 503 `unavailable` (too many connections, or the log failed; "
    "with `Retry-After`), 505 `version_not_supported`."
)


# ------------------------------------------------------------------ the builder


def _merged_failures(operation: Operation, *, write: bool) -> dict[int, dict[str, str]]:
    shared: list[Failure] = []
    if operation.auth:
        shared.append(_UNAUTHORIZED)
        if write:
            shared.extend(_WRITE_FAILURES)
    if operation.body is not None and operation.body_media_type == JSON_MEDIA_TYPE:
        shared.extend(_JSON_BODY_FAILURES)
    if any(p.location in ("path", "query") for p in operation.parameters):
        shared.append(_BAD_PARAMETER)
    merged: dict[int, dict[str, str]] = {}
    for failure in (*operation.failures, *shared):
        merged.setdefault(failure.status, {}).update(failure.codes)
    return merged


def _failure_response(
    status: int, codes: Mapping[str, str], operation: Operation, *, write: bool
) -> Schema:
    described = "; ".join(f"`{code}`: {why}" for code, why in codes.items())
    schema = {
        "allOf": [
            ref("Error"),
            {
                "type": "object",
                "properties": {
                    "error": {"type": "object", "properties": {"code": {"enum": list(codes)}}}
                },
            },
        ]
    }
    media: Schema = {"schema": schema}
    example = next(
        (f.example for f in operation.failures if f.status == status and f.example is not None),
        None,
    )
    if example is None and status == _UNAUTHORIZED.status and operation.auth:
        example = _UNAUTHORIZED.example
    if example is None:
        code = next(iter(codes))
        example = error_example(code, codes[code])
    media["example"] = example
    response: Schema = {"description": described, "content": {JSON_MEDIA_TYPE: media}}
    headers: dict[str, Schema] = {}
    if status == _UNAUTHORIZED.status and operation.auth:
        headers.update(_UNAUTHORIZED.headers)
    shared = _WRITE_FAILURES if write and operation.auth else ()
    for failure in (*operation.failures, *shared):
        if failure.status == status:
            headers.update(failure.headers)
    if headers:
        response["headers"] = _required_headers(headers)
    return response


def _required_headers(headers: Mapping[str, Schema]) -> Schema:
    return {name: {"schema": schema, "required": True} for name, schema in headers.items()}


def _reply_response(reply: Reply) -> Schema:
    response: Schema = {"description": reply.description}
    if reply.schema is not None:
        media: Schema = {"schema": reply.schema}
        if reply.example is not None:
            media["example"] = reply.example
        response["content"] = {reply.media_type: media}
    if reply.headers:
        response["headers"] = _required_headers(reply.headers)
    return response


def _parameter(parameter: Parameter) -> Schema:
    described: Schema = {
        "name": parameter.name,
        "in": parameter.location,
        "required": parameter.required,
        "description": parameter.description,
        "schema": parameter.schema,
    }
    if parameter.allow_empty_value:
        described["allowEmptyValue"] = True
    if parameter.style is not None:
        described["style"] = parameter.style
    if parameter.explode is not None:
        described["explode"] = parameter.explode
    if parameter.example is not None:
        described["example"] = parameter.example
    return described


def _operation_object(operation: Operation, *, write: bool) -> Schema:
    described: Schema = {
        "operationId": operation.operation_id,
        "tags": [operation.tag],
        "summary": operation.summary,
        "description": operation.description,
    }
    if not operation.auth:
        described["security"] = []
    if operation.parameters:
        described["parameters"] = [_parameter(p) for p in operation.parameters]
    if operation.body is not None:
        media: Schema = {"schema": operation.body}
        if operation.body_example is not None:
            media["example"] = operation.body_example
        described["requestBody"] = {
            "required": operation.body_required,
            "content": dict.fromkeys((operation.body_media_type, *operation.body_also_as), media),
        }
    responses: Schema = {str(reply.status): _reply_response(reply) for reply in operation.replies}
    for status, codes in sorted(_merged_failures(operation, write=write).items()):
        responses[str(status)] = _failure_response(status, codes, operation, write=write)
    responses["default"] = {
        "description": _DEFAULT_ERROR_DESCRIPTION,
        "content": {JSON_MEDIA_TYPE: {"schema": ref("Error")}},
    }
    described["responses"] = responses
    return described


def build_document(
    operations: Iterable[RoutedOperation], schemas: Mapping[str, Schema]
) -> dict[str, Any]:
    """The OpenAPI 3.1.0 document of these operations and component schemas (plus `Error`).

    A fresh dict on every call: the caller may change it. Raises ValueError
    when two operations share a method and path, or a schema name is taken twice.
    """
    paths: dict[str, Schema] = {}
    tags: list[str] = []
    for routed in operations:
        item = paths.setdefault(routed.path, {})
        if routed.method in item:
            raise ValueError(f"{routed.method} {routed.path} is documented twice")
        write = routed.method in ("post", "put", "patch", "delete")
        item[routed.method] = _operation_object(routed.operation, write=write)
        if routed.operation.tag not in tags:
            tags.append(routed.operation.tag)
    if "Error" in schemas:
        raise ValueError("the Error schema is the builder's")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Chat API",
            "version": API_VERSION,
            "description": "An event-sourced chat service. Connect with `POST /connect` to "
            "get a bearer token, send with `POST /send`, and stay in sync with "
            "`GET /events?after=<offset>`. All bodies are JSON (UTF-8); errors are "
            '`{"error": {"code", "message", ...}}`; times are Unix seconds.',
        },
        "servers": [{"url": "/"}],
        "tags": [{"name": tag} for tag in tags],
        "security": [{SECURITY_SCHEME: []}],
        "paths": paths,
        "components": {
            "schemas": {"Error": _error_schema(), **schemas},
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The `token` from `POST /connect`.",
                }
            },
        },
    }
