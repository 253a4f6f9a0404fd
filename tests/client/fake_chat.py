"""A small in-memory chat server speaking the core API, for client tests.

It follows the JSON shapes of the API closely enough for the client, and lets
a test do what the real server never does on request: change its log id, lose
events, or drop connections. The fake runs in the test's event loop, and so
do the `chat` steps against it (`tests.client.support.chat`).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from attrs import define, field

from tests.client.support import chat
from transport.server import (
    HttpLimits,
    HttpServer,
    Request,
    Response,
    Router,
    empty,
    error_response,
    json_response,
    read_json,
    wait_for_event,
)

LIMITS = HttpLimits(shutdown_grace_s=1.0, keepalive_timeout_s=5.0)


@define
class FakeChat:
    """The state of the fake server; tests poke at it directly."""

    log: str = field(factory=lambda: secrets.token_hex(8))
    users: dict[str, tuple[str, str]] = field(factory=dict)  # folded -> (name, password)
    tokens: dict[str, str] = field(factory=dict)  # token -> folded name
    events: list[dict[str, Any]] = field(factory=list)
    audience: list[frozenset[str] | None] = field(factory=list)  # None: everyone
    cursors: dict[str, int] = field(factory=dict)
    sent_keys: dict[tuple[str, str], dict[str, Any]] = field(factory=dict)
    changed: asyncio.Event = field(factory=asyncio.Event)
    requests: list[str] = field(factory=list)
    # The next this-many sends are stored, then answered too late for the client.
    slow_sends: int = 0
    # The next this-many polls are answered 503.
    unavailable: int = 0

    @property
    def head(self) -> int:
        return len(self.events)

    def append(self, kind: str, audience: frozenset[str] | None, **fields: Any) -> dict[str, Any]:
        event = {"offset": self.head + 1, "ts": time.time(), "type": kind, **fields}
        self.events.append(event)
        self.audience.append(audience)
        self.changed.set()
        self.changed = asyncio.Event()
        return event

    def visible(self, user: str, after: int) -> list[dict[str, Any]]:
        return [
            event
            for event, who in zip(self.events[after:], self.audience[after:], strict=True)
            if who is None or user in who
        ]

    def messages(self, room: str) -> list[dict[str, Any]]:
        return [
            e["message"]
            for e in self.events
            if e["type"] == "message.sent" and e["message"]["room"] == room
        ]

    def room_json(self, room: str, user: str) -> dict[str, Any]:
        if room == "general":
            members = sorted(name for name, _ in self.users.values())
            return {
                "id": "general",
                "name": "general",
                "kind": "general",
                "owner": None,
                "members": members,
            }
        folded = room.split(":")[1:]
        names = sorted(self.users[f][0] for f in folded)
        other = next((self.users[f][0] for f in folded if f != user), self.users[user][0])
        return {"id": room, "name": other, "kind": "direct", "owner": None, "members": names}

    def rooms_of(self, user: str) -> list[dict[str, Any]]:
        rooms = ["general"] + [
            event["room"]["id"]
            for event in self.events
            if event["type"] == "room.created" and user in event["room"]["id"].split(":")[1:]
        ]
        cursor = self.cursors.get(user, 0)
        result = []
        for room in rooms:
            unread = sum(1 for m in self.messages(room) if m["id"] > cursor)
            result.append({**self.room_json(room, user), "unread": unread})
        return result


def _auth(chat: FakeChat, request: Request) -> str | None:
    header = request.headers.get("authorization") or ""
    return chat.tokens.get(header.removeprefix("Bearer "))


def _unauthorized() -> Response:
    return error_response(
        401,
        "unauthorized",
        "missing, unknown or revoked token",
        headers=(("WWW-Authenticate", "Bearer"),),
    )


def make_router(chat: FakeChat) -> Router:
    async def connect(request: Request) -> Response:
        body = await read_json(request)
        name, password = body.get("name"), body.get("password")
        if not isinstance(name, str) or not name or not isinstance(password, str) or not password:
            return error_response(
                400, "validation_failed", "name and password are required", field="name"
            )
        folded = name.casefold()
        status = 200
        if folded not in chat.users:
            chat.users[folded] = (name, password)
            chat.append("room.member_joined", None, room="general", user=name)
            status = 201
        elif chat.users[folded][1] != password:
            return error_response(401, "bad_credentials", "wrong name or password")
        token = secrets.token_hex(32)
        chat.tokens[token] = folded
        cursor = chat.cursors.get(folded, 0)
        unread = [e["message"] for e in chat.visible(folded, cursor) if e["type"] == "message.sent"]
        return json_response(
            status,
            {
                "token": token,
                "user": {"name": chat.users[folded][0]},
                "log": chat.log,
                "offset": chat.head,
                "cursor": cursor,
                "general": {"id": "general", "messages": chat.messages("general")[-20:]},
                "unread": unread,
                "unread_truncated": False,
                "rooms": chat.rooms_of(folded),
            },
        )

    async def disconnect(request: Request) -> Response:
        if _auth(chat, request) is None:
            return _unauthorized()
        del chat.tokens[(request.headers.get("authorization") or "").removeprefix("Bearer ")]
        return empty()

    async def status(request: Request) -> Response:
        user = _auth(chat, request)
        if user is None:
            return _unauthorized()
        online = sorted({chat.users[u][0] for u in chat.tokens.values()})
        return json_response(
            200,
            {
                "user": {"name": chat.users[user][0]},
                "log": chat.log,
                "offset": chat.head,
                "cursor": chat.cursors.get(user, 0),
                "rooms": chat.rooms_of(user),
                "online": online,
                "sessions": [],
            },
        )

    async def send(request: Request) -> Response:
        user = _auth(chat, request)
        if user is None:
            return _unauthorized()
        body = await read_json(request)
        key = request.headers.get("idempotency-key")
        if key is not None and (user, key) in chat.sent_keys:
            return json_response(201, chat.sent_keys[(user, key)])
        text, room, to = body.get("text"), body.get("room", "general"), body.get("to")
        if not isinstance(text, str) or not text:
            return error_response(400, "validation_failed", "text must not be empty", field="text")
        audience: frozenset[str] | None = None
        if to is not None:
            other = str(to).casefold()
            if other not in chat.users:
                return error_response(404, "not_found", f"no user {to}")
            if other == user:
                return error_response(
                    400, "validation_failed", "cannot message yourself", field="to"
                )
            room = "dm:" + ":".join(sorted((user, other)))
            audience = frozenset({user, other})
            if room not in {r["id"] for r in chat.rooms_of(user)}:
                chat.append("room.created", audience, room=chat.room_json(room, user))
        elif room != "general":
            if room not in {r["id"] for r in chat.rooms_of(user)}:
                return error_response(404, "not_found", f"no room {room}")
            audience = frozenset(room.split(":")[1:])
        message = {
            "id": chat.head + 1,
            "room": room,
            "author": chat.users[user][0],
            "text": text,
            "ts": time.time(),
            "comments": 0,
        }
        chat.append("message.sent", audience, message=message)
        answer = {"message": message}
        if key is not None:
            chat.sent_keys[(user, key)] = answer
        if chat.slow_sends:
            chat.slow_sends -= 1
            await asyncio.sleep(1)
        return json_response(201, answer)

    async def messages(request: Request) -> Response:
        user = _auth(chat, request)
        if user is None:
            return _unauthorized()
        room = request.path_params["room"]
        if room not in {r["id"] for r in chat.rooms_of(user)}:
            return error_response(404, "not_found", f"no room {room}")
        limit = int(request.query_one("limit", "50") or 50)
        newest_first = list(reversed(chat.messages(room)))
        page = newest_first[:limit]
        more = len(newest_first) > limit
        return json_response(
            200, {"messages": page, "next_before": page[-1]["id"] if more else None}
        )

    async def events(request: Request) -> Response:
        chat.requests.append(request.target)
        if chat.unavailable:
            chat.unavailable -= 1
            return error_response(503, "unavailable", "too busy, try again")
        user = _auth(chat, request)
        if user is None:
            return _unauthorized()
        after = int(request.query_one("after", "0") or 0)
        timeout_s = float(request.query_one("timeout", "25") or 25)
        limit = int(request.query_one("limit", "100") or 100)
        log = request.query_one("log")
        if log is not None and log != chat.log:
            return error_response(409, "log_mismatch", "this server has another log")
        if after > chat.head:
            return error_response(
                409, "offset_out_of_range", "after is past the head", head=chat.head
            )
        chat.cursors[user] = max(chat.cursors.get(user, 0), after)
        if not chat.visible(user, after):
            await wait_for_event(request, chat.changed, timeout_s=timeout_s)
        found = chat.visible(user, after)[:limit]
        nxt = found[-1]["offset"] if len(found) == limit else chat.head
        return json_response(200, {"events": found, "next": nxt, "log": chat.log})

    router = Router()
    router.add("POST", "/connect", connect)
    router.add("POST", "/disconnect", disconnect)
    router.add("GET", "/status", status)
    router.add("POST", "/send", send)
    router.add("GET", "/rooms/{room}/messages", messages)
    router.add("GET", "/events", events, cancel_on_disconnect=True)
    return router


@asynccontextmanager
async def fake_chat_server(
    chat: FakeChat | None = None,
) -> AsyncIterator[tuple[FakeChat, HttpServer]]:
    """Serve a `FakeChat` on 127.0.0.1, port 0."""
    chat = chat or FakeChat()
    server = HttpServer(make_router(chat), LIMITS)
    await server.start("127.0.0.1", 0)
    try:
        yield chat, server
    finally:
        await server.shutdown()


def url(server: HttpServer) -> str:
    return f"http://127.0.0.1:{server.port}"


async def connect(home: Path, server: HttpServer, name: str, *extra: str) -> None:
    """`chat connect NAME` (password `pw`), which must succeed."""
    result = await chat(
        home, "connect", name, "--server", url(server), "--password-stdin", *extra, stdin="pw\n"
    )
    assert result.rc == 0, result.err


async def until(condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    """Wait until `condition()` holds (the client got somewhere)."""
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.02)


def polled(fake: FakeChat, since: int, part: str) -> Callable[[], bool]:
    """A condition: a poll whose target contains `part` arrived after request number `since`."""
    return lambda: any(part in target for target in fake.requests[since:])
