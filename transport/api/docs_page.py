"""`GET /docs`: the OpenAPI document rendered as one self-contained HTML page.

The page is generated from `openapi_document()`, so it cannot drift from
`/openapi.json`. Every string from the document goes through `html.escape`;
the only markup taken from descriptions is `code` in backticks. The page
loads nothing from elsewhere (no external CSS, scripts or fonts).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any, Final

from app import Settings
from transport.api.routes import openapi_document

__all__ = ["docs_page", "render_docs"]

_STYLE: Final = """
body { font: 15px/1.5 system-ui, sans-serif; margin: 0 auto; max-width: 60rem;
       padding: 1rem 2rem 4rem; color: #1d1d1f; }
h1 { margin-bottom: 0.2rem; }
h2 { border-bottom: 2px solid #ddd; padding-bottom: 0.2rem; margin-top: 2.5rem; }
h3 { margin-top: 2rem; }
code, pre { font: 13px/1.4 ui-monospace, monospace; }
code { background: #f2f2f4; padding: 0 0.25rem; border-radius: 3px; }
pre { background: #f6f6f8; padding: 0.75rem; border-radius: 4px; overflow-x: auto; }
table { border-collapse: collapse; margin: 0.4rem 0; width: 100%; }
th, td { border: 1px solid #e0e0e4; padding: 0.25rem 0.5rem; text-align: left;
         vertical-align: top; }
th { background: #fafafc; }
.method { display: inline-block; min-width: 4rem; color: #fff; border-radius: 3px;
          padding: 0 0.4rem; text-align: center; font-size: 13px; }
.get { background: #2f7d32; } .post { background: #1e5fb4; } .delete { background: #b42318; }
.auth { color: #6b6b70; font-size: 13px; }
.status { font-weight: bold; }
section.op { border-left: 3px solid #e0e0e4; padding-left: 1rem; }
"""
_BACKTICKS: Final = re.compile(r"`([^`]+)`")
_REF_PREFIX: Final = "#/components/schemas/"
# Patterns that spell out Unicode ranges run to kilobytes; the description says them in words.
_MAX_PATTERN_SHOWN: Final = 80


def _text(value: object) -> str:
    """Escape `value` and turn `code` spans into <code> elements."""
    return _BACKTICKS.sub(r"<code>\1</code>", html.escape(str(value)))


def _code(value: object) -> str:
    return f"<code>{html.escape(str(value))}</code>"


def _anchor(name: str) -> str:
    return "schema-" + re.sub(r"[^A-Za-z0-9_-]", "-", name)


def _ref_name(schema: Mapping[str, Any]) -> str | None:
    target = schema.get("$ref")
    if isinstance(target, str) and target.startswith(_REF_PREFIX):
        return target.removeprefix(_REF_PREFIX)
    return None


def _constraints(schema: Mapping[str, Any]) -> list[str]:
    notes = []
    if "minLength" in schema or "maxLength" in schema:
        notes.append(f"{schema.get('minLength', 0)}-{schema.get('maxLength', '…')} chars")
    if "minimum" in schema:
        notes.append(f"≥ {schema['minimum']}")
    if "maximum" in schema:
        notes.append(f"≤ {schema['maximum']}")
    if "maxItems" in schema:
        notes.append(f"at most {schema['maxItems']} items")
    if "pattern" in schema:
        pattern = str(schema["pattern"])
        shown = pattern if len(pattern) <= _MAX_PATTERN_SHOWN else "a pattern (in /openapi.json)"
        notes.append(f"matches {shown}")
    if "default" in schema:
        notes.append(f"default {json.dumps(schema['default'])}")
    return notes


def _type_label(schema: Mapping[str, Any]) -> str:
    """A one-line HTML description of a schema's type."""
    name = _ref_name(schema)
    if name is not None:
        return f'<a href="#{_anchor(name)}">{html.escape(name)}</a>'
    if "const" in schema:
        return f"always {_code(json.dumps(schema['const'], ensure_ascii=False))}"
    if "enum" in schema:
        return "one of " + ", ".join(
            _code(json.dumps(v, ensure_ascii=False)) for v in schema["enum"]
        )
    for combinator, word in (("oneOf", "one of"), ("allOf", "all of"), ("anyOf", "any of")):
        if combinator in schema:
            return f"{word}: " + ", ".join(_type_label(s) for s in schema[combinator])
    kind = schema.get("type", "any")
    if kind == "array":
        label = "array of " + _type_label(schema.get("items", {}))
    else:
        label = html.escape(" | ".join(kind) if isinstance(kind, list) else str(kind))
    notes = _constraints(schema)
    if notes:
        label += " (" + html.escape(", ".join(notes)) + ")"
    return label


def _error_codes(schema: Mapping[str, Any]) -> list[str] | None:
    """The codes of an error response's `allOf: [Error, {error: {code: {enum}}}]`, if it is one."""
    members = schema.get("allOf")
    if not (isinstance(members, list) and len(members) == 2 and _ref_name(members[0])):
        return None
    error = members[1].get("properties", {}).get("error", {})
    codes = error.get("properties", {}).get("code", {}).get("enum")
    return [str(code) for code in codes] if isinstance(codes, list) else None


def _render_schema(schema: Mapping[str, Any]) -> str:
    """A schema as HTML: a table of properties for an object, else its type."""
    parts = []
    if "description" in schema and _ref_name(schema) is None:
        parts.append(f"<p>{_text(schema['description'])}</p>")
    properties = schema.get("properties")
    codes = _error_codes(schema)
    if codes is not None:
        parts.append(
            f"<p>{_type_label(schema['allOf'][0])} with <code>code</code> one of "
            + ", ".join(_code(code) for code in codes)
            + "</p>"
        )
    elif "allOf" in schema:
        parts.append("<p>All of:</p>")
        parts.extend(_render_schema(member) for member in schema["allOf"])
    elif isinstance(properties, Mapping) and properties:
        required = set(schema.get("required", ()))
        rows = []
        for name, prop in properties.items():
            nested = isinstance(prop.get("properties"), Mapping)
            shape = _render_schema(prop) if nested else _type_label(prop)
            about = "" if nested else _text(prop.get("description", ""))
            rows.append(
                f"<tr><td>{_code(name)}</td><td>{shape}</td>"
                f"<td>{'yes' if name in required else 'no'}</td><td>{about}</td></tr>"
            )
        parts.append(
            "<table><tr><th>field</th><th>type</th><th>required</th><th>notes</th></tr>"
            + "".join(rows)
            + "</table>"
        )
        if "not" in schema:
            parts.append(f"<p>Not allowed: {_code(json.dumps(schema['not']))}</p>")
    else:
        parts.append(f"<p>{_type_label(schema)}</p>")
    return "".join(parts)


def _example(value: object) -> str:
    shown = json.dumps(value, indent=2, ensure_ascii=False)
    return f"<pre>{html.escape(shown)}</pre>"


def _render_parameters(parameters: Sequence[Mapping[str, Any]]) -> str:
    rows = "".join(
        f"<tr><td>{_code(p['name'])}</td><td>{html.escape(p['in'])}</td>"
        f"<td>{_type_label(p['schema'])}</td><td>{'yes' if p.get('required') else 'no'}</td>"
        f"<td>{_text(p.get('description', ''))}"
        + (f" Example: {_code(p['example'])}" if "example" in p else "")
        + "</td></tr>"
        for p in parameters
    )
    return (
        "<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>type</th>"
        f"<th>required</th><th>notes</th></tr>{rows}</table>"
    )


def _render_media(content: Mapping[str, Any]) -> str:
    parts = []
    for media_type, media in content.items():
        parts.append(f"<p>{_code(media_type)}</p>")
        if "schema" in media:
            parts.append(_render_schema(media["schema"]))
        if "example" in media:
            parts.append(_example(media["example"]))
    return "".join(parts)


def _render_responses(responses: Mapping[str, Any]) -> str:
    parts = ["<h4>Responses</h4>"]
    for status, response in responses.items():
        parts.append(
            f'<p><span class="status">{html.escape(status)}</span> '
            f"{_text(response.get('description', ''))}</p>"
        )
        for header, spec in response.get("headers", {}).items():
            parts.append(f"<p>Header {_code(header)}: {_type_label(spec.get('schema', {}))}</p>")
        if "content" in response:
            parts.append(_render_media(response["content"]))
    return "".join(parts)


def _operation_id(method: str, path: str, operation: Mapping[str, Any]) -> str:
    return "op-" + str(operation.get("operationId") or re.sub(r"\W", "-", method + path))


def _render_operation(method: str, path: str, operation: Mapping[str, Any]) -> str:
    anchor = html.escape(_operation_id(method, path, operation), quote=True)
    auth = "no authentication" if operation.get("security") == [] else "bearer token required"
    parts = [
        f'<section class="op" id="{anchor}">',
        f'<h3><span class="method {html.escape(method)}">{html.escape(method.upper())}</span> '
        f"{_code(path)}</h3>",
        f"<p><strong>{_text(operation.get('summary', ''))}</strong> "
        f'<span class="auth">({auth})</span></p>',
        f"<p>{_text(operation.get('description', ''))}</p>",
    ]
    if operation.get("parameters"):
        parts.append(_render_parameters(operation["parameters"]))
    if "requestBody" in operation:
        parts.append("<h4>Request body</h4>")
        parts.append(_render_media(operation["requestBody"]["content"]))
    parts.append(_render_responses(operation.get("responses", {})))
    parts.append("</section>")
    return "".join(parts)


def render_docs(document: Mapping[str, Any]) -> str:
    """Render an OpenAPI document as a complete HTML page."""
    info = document.get("info", {})
    title = html.escape(info.get("title", "API"))
    by_tag: dict[str, list[tuple[str, str, Mapping[str, Any]]]] = {}
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            tag = (operation.get("tags") or ["Other"])[0]
            by_tag.setdefault(tag, []).append((method, path, operation))
    toc = []
    body = []
    for tag, operations in by_tag.items():
        body.append(f"<h2>{html.escape(tag)}</h2>")
        links = []
        for method, path, operation in operations:
            anchor = html.escape(_operation_id(method, path, operation), quote=True)
            links.append(
                f'<li><a href="#{anchor}">{html.escape(method.upper())} {html.escape(path)}</a>'
                f" — {_text(operation.get('summary', ''))}</li>"
            )
            body.append(_render_operation(method, path, operation))
        toc.append(f"<li>{html.escape(tag)}<ul>{''.join(links)}</ul></li>")
    schemas = document.get("components", {}).get("schemas", {})
    body.append('<h2 id="schemas">Schemas</h2>')
    for name, schema in schemas.items():
        body.append(f'<h3 id="{_anchor(name)}">{html.escape(name)}</h3>')
        body.append(_render_schema(schema))
        body.extend(_example(example) for example in schema.get("examples", ()))
    toc.append('<li><a href="#schemas">Schemas</a></li>')
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{title} <small>{html.escape(info.get('version', ''))}</small></h1>"
        f"<p>{_text(info.get('description', ''))}</p>"
        '<p>The same description as OpenAPI 3.1: <a href="/openapi.json">/openapi.json</a>.</p>'
        f"<nav><ul>{''.join(toc)}</ul></nav>{''.join(body)}"
        "</body></html>\n"
    )


@lru_cache(maxsize=8)
def docs_page(settings: Settings | None = None) -> bytes:
    """The `/docs` page for a server with `settings` (defaults if None), UTF-8 HTML."""
    return render_docs(openapi_document(settings)).encode("utf-8")
