"""Headers of a file download: `Content-Disposition` (RFC 6266), `ETag` and `If-None-Match`.

What a browser may do with a file is decided here (`served_as`): only the
raster images browsers decode without running anything (PNG, JPEG, GIF,
WebP) may be shown `inline`; everything else is an `attachment`, and the
types a browser would run or parse as a document (HTML, SVG, XHTML, XML,
JavaScript) are served as `application/octet-stream`, whatever the uploader
said. The download also carries `Content-Security-Policy: sandbox` (files.py).

`filename="..."` is a quoted-string (RFC 9110 section 5.6.4) that can only
carry ASCII, so it holds a fallback: `"` and `\\` are escaped, anything that
is not printable ASCII becomes `_`. When that fallback is not exactly the
name, or could be read differently by a user agent, `filename*` (RFC 8187)
carries the exact name as percent-encoded UTF-8, which RFC 6266 section 4.3
says recipients prefer. "Could be read differently": escapes in a
quoted-string are skipped by some agents, and some percent-decode `filename`,
so a name with `"`, `\\` or `%` gets `filename*` too.

Nothing in the value is taken over unescaped but printable ASCII, so no name
can end the header line (CR, LF) or inject another header.
"""

from __future__ import annotations

import re
import string
from typing import Final

_PRINTABLE_ASCII = frozenset(chr(code) for code in range(0x20, 0x7F))
_QUOTED_PAIR_CHARS = frozenset('"\\')
_AMBIGUOUS_IN_FILENAME = frozenset('"\\%')
_FALLBACK_REPLACEMENT = "_"
# RFC 8187 section 3.2.1: attr-char = ALPHA / DIGIT / "!" / "#" / "$" / "&" /
# "+" / "-" / "." / "^" / "_" / "`" / "|" / "~"; every other byte is %XX.
_ATTR_CHARS = frozenset(string.ascii_letters + string.digits + "!#$&+-.^_`|~")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def _fallback_char(char: str) -> str:
    if char not in _PRINTABLE_ASCII:
        return _FALLBACK_REPLACEMENT
    if char in _QUOTED_PAIR_CHARS:
        return "\\" + char
    return char


def _ext_value(name: str) -> str:
    # A lone surrogate cannot be UTF-8; it becomes "?" so that the header is
    # still well formed (domain.check_file_name refuses such names anyway).
    encoded = name.encode("utf-8", errors="replace")
    return "".join(chr(byte) if chr(byte) in _ATTR_CHARS else f"%{byte:02X}" for byte in encoded)


def _needs_ext_value(name: str) -> bool:
    return any(c not in _PRINTABLE_ASCII or c in _AMBIGUOUS_IN_FILENAME for c in name)


INLINE_TYPES: Final = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
OPAQUE_TYPE: Final = "application/octet-stream"
_ACTIVE_TYPES: Final = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "image/svg+xml",
        "text/xml",
        "application/xml",
        "text/xsl",
        "application/xslt+xml",
        "text/javascript",
        "application/javascript",
        "application/x-javascript",
        "text/ecmascript",
        "application/ecmascript",
        "text/jscript",
        "application/json+javascript",
        "multipart/x-mixed-replace",
        "application/pdf",
        "text/cache-manifest",
    }
)


def served_as(content_type: str) -> tuple[str, bool]:
    """The `Content-Type` to serve an upload of `content_type` with, and whether inline.

    Active types (any `+xml`, HTML, JavaScript, ...), and anything malformed,
    become `application/octet-stream`; only raster images are inline.
    """
    essence = content_type.split(";", 1)[0].strip(" \t").lower()
    kind, slash, sub = essence.partition("/")
    if not slash or not kind or not sub or essence in _ACTIVE_TYPES:
        return OPAQUE_TYPE, False
    if sub.endswith(("+xml", "script")) or "javascript" in essence or "html" in essence:
        return OPAQUE_TYPE, False
    if essence in INLINE_TYPES:
        return essence, True
    return content_type, False


def content_disposition(name: str, *, inline: bool = False) -> str:
    """The `Content-Disposition` value that offers a download saved as `name`.

    `attachment` (saved, never shown), or `inline` for what may be shown.
    The result holds only printable ASCII (spaces included), whatever the
    name; never raises.
    """
    kind = "inline" if inline else "attachment"
    value = f'{kind}; filename="{"".join(map(_fallback_char, name))}"'
    if _needs_ext_value(name):
        value += f"; filename*=UTF-8''{_ext_value(name)}"
    return value


def etag(sha256: str) -> str:
    """The strong `ETag` of a file: its SHA-256 in quotes (RFC 9110 section 8.8.3).

    Raises ValueError unless `sha256` is 64 lowercase hex digits.
    """
    if _SHA256_HEX.fullmatch(sha256) is None:
        raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
    return f'"{sha256}"'


def _entity_tags(field_value: str) -> list[str] | None:
    """The opaque tags of an If-None-Match list, weak or strong alike; None if malformed.

    RFC 9110 section 8.8.3: entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE, with
    etagc = %x21 / %x23-7E / obs-text, so a tag may hold commas: the list is
    scanned, not split.
    """
    tags: list[str] = []
    position, end = 0, len(field_value)
    while True:
        while position < end and field_value[position] in " \t,":
            position += 1
        if position == end:
            return tags
        if field_value.startswith("W/", position):
            position += 2
        if not field_value.startswith('"', position):
            return None
        closing = field_value.find('"', position + 1)
        if closing < 0:
            return None
        tag = field_value[position + 1 : closing]
        if any(c == "\x7f" or c < "\x21" for c in tag):
            return None
        tags.append(tag)
        position = closing + 1
        if position < end and field_value[position] not in " \t,":
            return None


def not_modified(if_none_match: str | None, sha256: str) -> bool:
    """Whether a download with this `If-None-Match` may be answered 304 Not Modified.

    RFC 9110 section 13.1.2: `*` or any listed tag that matches the file's
    ETag by weak comparison. A malformed field is ignored (False), so the
    client gets the file. Raises ValueError for a malformed `sha256`.
    """
    current = etag(sha256)[1:-1]
    if if_none_match is None:
        return False
    if if_none_match.strip(" \t") == "*":
        return True
    tags = _entity_tags(if_none_match)
    return tags is not None and current in tags
