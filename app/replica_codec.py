"""Commands and their outcomes as bytes, for forwarding them to the replica that writes.

A request is `{"commands": [{"type": ..., "fields": {...}}]}`; an answer is
the offsets of the events the commands produced, or the domain error that
refused one (rebuilt as the same class with the same attributes), or
`unavailable` (the answering replica is not the writer, or cannot write),
and always `through`: the writer's head when it answered, which the asking
replica reaches before it answers its client, so it reads what the writer
decided on. JSON (stdlib): commands are small and hold only strings,
numbers, a file reference and lists.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Sequence
from typing import Any

import attrs
from attrs import frozen

from domain import Command, DomainError, FileRef

_COMMANDS: dict[str, type[Any]] = {cls.__name__: cls for cls in typing.get_args(Command)}


def _all_errors(base: type[DomainError]) -> dict[str, type[DomainError]]:
    found = {base.__name__: base}
    for sub in base.__subclasses__():
        found.update(_all_errors(sub))
    return found


_ERRORS = _all_errors(DomainError)


def encode_commands(commands: Sequence[Command]) -> bytes:
    items = [
        {"type": type(command).__name__, "fields": attrs.asdict(command, recurse=True)}
        for command in commands
    ]
    return json.dumps({"commands": items}).encode("utf-8")


def decode_commands(payload: bytes) -> list[Command]:
    """The commands of a request. Raises ValueError (KeyError, TypeError) for a bad one."""
    commands: list[Command] = []
    for item in json.loads(payload)["commands"]:
        cls = _COMMANDS[item["type"]]
        fields: dict[str, Any] = {}
        for name, raw in item["fields"].items():
            value = raw
            if isinstance(raw, dict):
                value = FileRef(**raw)
            elif isinstance(raw, list):
                value = tuple(raw)
            fields[name] = value
        commands.append(cls(**fields))
    return commands


@frozen(kw_only=True)
class Outcome:
    """What the writer answered."""

    through: int
    offsets: tuple[int, ...] = ()
    error: DomainError | None = None
    unavailable: str | None = None


def encode_outcome(outcome: Outcome) -> bytes:
    body: dict[str, Any] = {"through": outcome.through, "offsets": list(outcome.offsets)}
    if outcome.unavailable is not None:
        body["unavailable"] = outcome.unavailable
    if outcome.error is not None:
        error = outcome.error
        body["error"] = {
            "class": type(error).__name__,
            "args": list(error.args),
            "attrs": dict(vars(error)),
        }
    return json.dumps(body, default=repr).encode("utf-8")


def decode_outcome(payload: bytes) -> Outcome:
    """Raises ValueError (KeyError, TypeError) for an answer that is not one."""
    body = json.loads(payload)
    error: DomainError | None = None
    if "error" in body:
        cls = _ERRORS[body["error"]["class"]]
        error = cls.__new__(cls)
        Exception.__init__(error, *body["error"]["args"])
        error.__dict__.update(body["error"]["attrs"])
    return Outcome(
        through=int(body["through"]),
        offsets=tuple(int(o) for o in body["offsets"]),
        error=error,
        unavailable=body.get("unavailable"),
    )
