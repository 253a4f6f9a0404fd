"""Headers of a file download: `Content-Disposition` (RFC 6266) and `ETag`.

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


def content_disposition(name: str) -> str:
    """The `Content-Disposition` value that offers a download saved as `name`.

    The result holds only printable ASCII (spaces included), whatever the
    name; never raises.
    """
    value = f'attachment; filename="{"".join(map(_fallback_char, name))}"'
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
