"""Reading the server's JSON: the one set of checks every answer and event goes through.

How this works: a reader takes decoded JSON (dicts, lists, strings, numbers,
booleans, None) and returns the value with the type asked for, or raises
`BadResponseError` naming the place in the answer that is wrong, so that the
rest of the client never meets a `KeyError` or a value of another type (and
the user never sees a traceback). Python's `bool` is an `int`, but JSON's
`true` is not a number: an `int` field holding `true` is wrong, and so is a
boolean field holding `1`, in every reader here.

The readers named `..._or_none` never raise: they are for fields the client
can do without.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from client.http import BadResponseError

__all__ = [
    "answer_list",
    "array",
    "boolean",
    "flag",
    "integer",
    "integer_or_none",
    "is_a",
    "member",
    "nullable_array",
    "nullable_integer",
    "nullable_number",
    "number",
    "number_or_none",
    "obj",
    "parsed_or_none",
    "string",
    "string_or_none",
    "user_name",
]

T = TypeVar("T")
_NUMBER = (int, float)


def is_a(value: object, kind: type | tuple[type, ...]) -> bool:
    """Whether `value` is of `kind`, a JSON boolean counting only as a `bool`."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return isinstance(value, kinds) and (bool in kinds or not isinstance(value, bool))


def obj(value: object, what: str) -> Mapping[str, Any]:
    """`value` as a JSON object.

    Raises BadResponseError when it is not one.
    """
    if not isinstance(value, dict):
        raise BadResponseError(f"{what} is not a JSON object")
    return value


def member(value: object, key: str, what: str) -> Mapping[str, Any]:
    """`value[key]`, which must be a JSON object (e.g. `{"comment": {...}}`).

    Raises BadResponseError otherwise.
    """
    return obj(obj(value, what).get(key), f"{what}.{key}")


def _typed(fields: Mapping[str, Any], key: str, kind: type | tuple[type, ...], what: str) -> Any:
    value = fields.get(key)
    if not is_a(value, kind):
        kinds = kind if isinstance(kind, tuple) else (kind,)
        names = " or ".join(k.__name__ for k in kinds)
        raise BadResponseError(f"{what}.{key} is missing or not {names}")
    return value


def string(fields: Mapping[str, Any], key: str, what: str) -> str:
    """`fields[key]` as a string.

    Raises BadResponseError when it is missing or not a string.
    """
    value: str = _typed(fields, key, str, what)
    return value


def integer(fields: Mapping[str, Any], key: str, what: str) -> int:
    """`fields[key]` as an integer (never a boolean).

    Raises BadResponseError when it is missing or not an integer.
    """
    value: int = _typed(fields, key, int, what)
    return value


def number(fields: Mapping[str, Any], key: str, what: str) -> float:
    """`fields[key]` as a float (an integer or a float in the JSON, never a boolean).

    Raises BadResponseError when it is missing or not a number.
    """
    value = _typed(fields, key, _NUMBER, what)
    try:
        return float(value)
    except OverflowError:  # an integer of hundreds of digits
        raise BadResponseError(f"{what}.{key} is too large a number") from None


def boolean(fields: Mapping[str, Any], key: str, what: str) -> bool:
    """`fields[key]` as a boolean (never a number).

    Raises BadResponseError when it is missing or not `true` or `false`.
    """
    value: bool = _typed(fields, key, bool, what)
    return value


def array(fields: Mapping[str, Any], key: str, what: str) -> list[Any]:
    """`fields[key]` as a list.

    Raises BadResponseError when it is missing or not a list.
    """
    value: list[Any] = _typed(fields, key, list, what)
    return value


def _nullable(
    read: Callable[[Mapping[str, Any], str, str], T], fields: Mapping[str, Any], key: str, what: str
) -> T | None:
    return None if fields.get(key) is None else read(fields, key, what)


def nullable_integer(fields: Mapping[str, Any], key: str, what: str) -> int | None:
    """None when `fields[key]` is missing or null, else it as an integer.

    Raises BadResponseError when it is there and not an integer.
    """
    return _nullable(integer, fields, key, what)


def nullable_number(fields: Mapping[str, Any], key: str, what: str) -> float | None:
    """None when `fields[key]` is missing or null, else it as a float.

    Raises BadResponseError when it is there and not a number.
    """
    return _nullable(number, fields, key, what)


def nullable_array(fields: Mapping[str, Any], key: str, what: str) -> list[Any] | None:
    """None when `fields[key]` is missing or null, else it as a list.

    Raises BadResponseError when it is there and not a list.
    """
    return _nullable(array, fields, key, what)


def string_or_none(fields: Mapping[str, Any], key: str) -> str | None:
    """`fields[key]` when it is a string, else None."""
    value = fields.get(key)
    return value if isinstance(value, str) else None


def integer_or_none(fields: Mapping[str, Any], key: str) -> int | None:
    """`fields[key]` when it is an integer (a boolean is not), else None."""
    value = fields.get(key)
    return value if is_a(value, int) else None


def number_or_none(fields: Mapping[str, Any], key: str) -> float | None:
    """`fields[key]` as a float when it is a number (a boolean is not), else None."""
    value: Any = fields.get(key)
    if not is_a(value, _NUMBER):
        return None
    try:
        return float(value)
    except OverflowError:
        return None


def flag(fields: Mapping[str, Any], key: str) -> bool:
    """True only when `fields[key]` is JSON `true`."""
    return fields.get(key) is True


def user_name(value: object, what: str) -> str:
    """A user, `{"name": ...}` (a bare name is accepted too).

    Raises BadResponseError for anything else.
    """
    if isinstance(value, str):
        return value
    return string(obj(value, what), "name", what)


def answer_list(value: object, key: str) -> list[Any]:
    """The list under `key` of an answer such as `{"comments": [...]}`.

    Raises BadResponseError when there is none.
    """
    return array(obj(value, "answer"), key, "answer")


def parsed_or_none(parse: Callable[[object], T], value: object) -> T | None:
    """`parse(value)`, or None when `value` does not have the shape (BadResponseError)."""
    try:
        return parse(value)
    except BadResponseError:
        return None
