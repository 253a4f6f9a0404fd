"""How records reach a terminal: secrets masked, bytes summarised, control characters escaped.

Text from the log is untrusted: a user name or a message may carry terminal
escape sequences (C0 and C1 controls, DEL) or bidirectional overrides that
make a line read differently from what it holds. Every line `chat-log`
prints goes through `terminal_safe`, which writes each such character as a
``\\uXXXX`` escape (valid JSON inside a string, so JSON lines stay JSON and
decode to the original text).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Final

from eventstore.records import Record

SECRET_FIELDS: Final = frozenset({"password_hash", "salt", "token_hash"})
# `by` too: the domain names who acted on a room (joins, links, decisions) there.
USER_FIELDS: Final = ("user", "author", "to", "owner", "members", "reporter", "target", "by")
SHOWN_SECRET_CHARS: Final = 8
# C0 controls, DEL, C1 controls, the Arabic letter mark, LRM/RLM, the line and
# paragraph separators, the bidi embeddings and overrides (U+202A-U+202E) and
# isolates (U+2066-U+2069).
_UNSAFE: Final = (
    *range(0x20),
    0x7F,
    *range(0x80, 0xA0),
    0x061C,
    0x200E,
    0x200F,
    0x2028,
    0x2029,
    *range(0x202A, 0x202F),
    *range(0x2066, 0x206A),
)
_ESCAPES: Final = {code: f"\\u{code:04x}" for code in _UNSAFE}


def terminal_safe(text: str) -> str:
    """`text` with every control, bidi override and line separator written as \\uXXXX."""
    return text.translate(_ESCAPES)


class _Raw(str):
    """Text shown as is in the human format (masked secrets, byte counts)."""

    __slots__ = ()


# -- presenting records -------------------------------------------------------


def is_secret(key: str) -> bool:
    return key in SECRET_FIELDS or key.endswith("_hash")


def _mask(value: Any) -> _Raw:
    text = value.hex() if isinstance(value, bytes) else str(value)
    return _Raw(text[:SHOWN_SECRET_CHARS] + "…")


def redact(value: Any, key: str = "") -> Any:
    """A printable copy: secrets masked, bytes replaced by their size."""
    if key and is_secret(key):
        return _mask(value)
    if isinstance(value, bytes):
        return _Raw(f"<{len(value)} bytes>")
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


def iso_time(ts: float) -> str:
    try:
        moment = dt.datetime.fromtimestamp(ts, dt.UTC)
    except (OverflowError, ValueError, OSError):
        return str(ts)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _show(value: Any) -> str:
    if isinstance(value, _Raw):
        return str(value)
    if isinstance(value, str):
        simple = value and value.isprintable() and not any(c in value for c in ' ="\\')
        return value if simple else json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def human_line(record: Record) -> str:
    """One record as a line for people: offset, time, name, then key=value pairs."""
    fields = redact(dict(record.data))
    parts = [f"{record.offset:>8}", iso_time(record.ts), record.name]
    if fields:
        parts.append(" ".join(f"{k}={_show(v)}" for k, v in fields.items()))
    return terminal_safe("  ".join(parts))


def json_line(record: Record) -> str:
    """One record as a JSON object on one line (controls escaped as \\uXXXX)."""
    return json_text(
        {
            "offset": record.offset,
            "ts": record.ts,
            "time": iso_time(record.ts),
            "name": record.name,
            "data": redact(dict(record.data)),
        },
    )


def json_text(value: Any) -> str:
    """`value` as one line of JSON, readable text kept, unsafe characters escaped."""
    return terminal_safe(json.dumps(value, ensure_ascii=False, default=str))


def mentions_user(data: Any, user: str) -> bool:
    for key in USER_FIELDS:
        value = data.get(key)
        if value == user or (isinstance(value, list) and user in value):
            return True
    return False
