"""Case-insensitive, multi-valued header fields, and the syntax checks they need."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

__all__ = ["Headers", "check_field", "is_token"]

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Field values: visible ASCII, obs-text, SP and HTAB; no CR, LF, NUL, other CTLs.
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# Fields already found valid: most responses repeat the same few (Content-Type).
_checked: set[tuple[str, str]] = set()
_MAX_CHECKED = 4096


def is_token(text: str) -> bool:
    """Tell whether `text` is an RFC 9110 token (method, field name)."""
    return _TOKEN.fullmatch(text) is not None


def check_field(name: str, value: str) -> None:
    """Check a header field before writing it.

    Raises ValueError for a name that is not a token or a value with CR, LF,
    NUL or another control character (header injection).
    """
    if (name, value) in _checked:
        return
    if not is_token(name):
        raise ValueError(f"header name is not a token: {name!r}")
    if _BAD_VALUE.search(value) is not None:
        raise ValueError(f"header value of {name} has control characters")
    if len(_checked) >= _MAX_CHECKED:
        _checked.clear()
    _checked.add((name, value))


class Headers:
    """Header fields in arrival order; lookups ignore case of the name."""

    __slots__ = ("_fields", "_index")

    def __init__(self, fields: Iterable[tuple[str, str]] = ()) -> None:
        self._fields: list[tuple[str, str]] = list(fields)
        index: dict[str, list[str]] = {}
        for name, value in self._fields:
            key = name.lower()
            values = index.get(key)
            if values is None:
                index[key] = [value]
            else:
                values.append(value)
        self._index = index

    def add(self, name: str, value: str) -> None:
        """Append a field (the name keeps its case for writing)."""
        self._fields.append((name, value))
        self._index.setdefault(name.lower(), []).append(value)

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of `name`, or `default`."""
        values = self._index.get(name.lower())
        return values[0] if values else default

    def get_all(self, name: str) -> list[str]:
        """Every value of `name`, in order (empty when absent)."""
        return list(self._index.get(name.lower(), ()))

    def count(self, name: str) -> int:
        """How many fields are named `name`."""
        return len(self._index.get(name.lower(), ()))

    def get_tokens(self, name: str) -> list[str]:
        """The comma-separated elements of every `name` field, trimmed and lowercased."""
        tokens: list[str] = []
        for value in self._index.get(name.lower(), ()):
            tokens.extend(part.strip(" \t").lower() for part in value.split(","))
        return tokens

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._index

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return self._fields == other._fields

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Headers({self._fields!r})"
