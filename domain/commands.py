"""Commands: what a user asks for, already parsed and validated for shape."""

from __future__ import annotations

from attrs import frozen


@frozen(kw_only=True)
class CreateGeneral:
    """Create the shared `general` room (once, at the first start)."""


@frozen(kw_only=True)
class RegisterUser:
    name: str
    password_hash: str


@frozen(kw_only=True)
class OpenSession:
    user: str
    token_hash: str


@frozen(kw_only=True)
class CloseSession:
    user: str
    session: int


@frozen(kw_only=True)
class SendMessage:
    author: str
    text: str
    room: str | None = None  # None with `to` set: a direct message
    to: str | None = None
    idempotency_key: str | None = None


@frozen(kw_only=True)
class MoveCursor:
    user: str
    cursor: int
    session: int | None = None


Command = CreateGeneral | RegisterUser | OpenSession | CloseSession | SendMessage | MoveCursor
