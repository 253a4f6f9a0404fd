"""Decoding request JSON that the service can store and answer: nothing else passes.

How this works: json's decoder is given number parsers that refuse
integers longer than `max_integer_digits` (msgpack, the log's codec, stops
at 64 bits) and non-finite floats (`1e999`), and a constant parser that
refuses `NaN` and `Infinity` (not JSON, and json.dumps would write them back
as such). Its recursion limit stops extreme nesting (RecursionError). Then
one walk over the result refuses nesting deeper than `max_depth` and lone
UTF-16 surrogates in any key or string ("\\ud800" escapes make them, and no
UTF-8 encoder accepts them); the walk runs only when the text has more
brackets than `max_depth` or a `\\u` escape, so an ordinary body pays two
byte counts and a substring test.
"""

from __future__ import annotations

import functools
import json
import math
import re

__all__ = ["loads_strict"]

_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


def _no_constant(text: str) -> object:
    raise ValueError(f"{text} is not JSON")


@functools.cache
def _decoder(max_integer_digits: int) -> json.JSONDecoder:
    def bounded_int(text: str) -> int:
        if len(text) - text.startswith("-") > max_integer_digits:
            raise ValueError("integer too large")
        return int(text)

    return json.JSONDecoder(
        parse_int=bounded_int, parse_float=_finite_float, parse_constant=_no_constant
    )


def loads_strict(body: bytes, *, max_depth: int, max_integer_digits: int) -> object:
    """Decode UTF-8 JSON that holds only what the service can represent.

    Raises ValueError (UnicodeDecodeError and json's errors included) or
    RecursionError for anything else.
    """
    obj = _decoder(max_integer_digits).decode(body.decode("utf-8"))
    deep = body.count(b"[") + body.count(b"{") > max_depth
    if deep or b"\\u" in body:
        _check_tree(obj, max_depth)
    return obj


def _check_tree(obj: object, max_depth: int) -> None:
    """Raises ValueError for nesting past `max_depth` or a lone surrogate in any string."""
    stack: list[tuple[object, int]] = [(obj, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value) is not None:
                raise ValueError("lone surrogate in a string")
            continue
        if not isinstance(value, dict | list):
            continue
        if depth > max_depth:
            raise ValueError("JSON nested too deeply")
        if isinstance(value, dict):
            stack.extend((key, depth) for key in value)
            stack.extend((item, depth + 1) for item in value.values())
        else:
            stack.extend((item, depth + 1) for item in value)
