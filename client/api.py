"""The chat API (API.md) as async methods over one `HttpClient`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from client.http import HttpClient, HttpResponse, NetworkError, encode_query, quote
from client.models import ApiErrorBody, EventsPage, HistoryPage, Message, Status, Welcome

__all__ = ["ApiError", "ChatApi", "POLL_MARGIN_S", "ServerTroubleError"]

_JSON: Final = "application/json; charset=utf-8"
# A long poll's request deadline is the poll timeout plus this much.
POLL_MARGIN_S: Final = 10.0


class ApiError(Exception):
    """The server said no: an HTTP error status with the API's error body."""

    def __init__(self, status: int, body: ApiErrorBody) -> None:
        super().__init__(f"{body.message} ({body.code})")
        self.status = status
        self.code = body.code
        self.message = body.message
        self.extra: Mapping[str, Any] = body.extra


class ServerTroubleError(NetworkError):
    """A 5xx answer: the server is overloaded, restarting or failing; worth retrying."""


class ChatApi:
    """One user's view of the server; `token` is None until `connect`."""

    def __init__(self, http: HttpClient, token: str | None = None) -> None:
        self.http = http
        self.token = token

    async def _call(
        self,
        method: str,
        target: str,
        payload: Mapping[str, object] | None = None,
        *,
        headers: tuple[tuple[str, str], ...] = (),
        timeout_s: float | None = None,
    ) -> HttpResponse:
        all_headers = [("Accept", "application/json"), *headers]
        if self.token is not None:
            all_headers.append(("Authorization", f"Bearer {self.token}"))
        body = b""
        if payload is not None:
            body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            all_headers.append(("Content-Type", _JSON))
        response = await self.http.request(
            method, target, headers=all_headers, body=body, timeout_s=timeout_s
        )
        if response.status >= 400:
            try:
                decoded: object = response.json()
            except ValueError:
                decoded = None
            error = ApiErrorBody.from_json(decoded, response.status)
            if response.status >= 500:
                raise ServerTroubleError(f"the server answered {response.status}: {error.message}")
            raise ApiError(response.status, error)
        return response

    async def connect(self, name: str, password: str) -> Welcome:
        """Open a session (registering `name` on first use) and keep its token.

        Raises ApiError (validation_failed, bad_credentials) and the errors of
        `HttpClient.request`.
        """
        response = await self._call("POST", "/connect", {"name": name, "password": password})
        welcome = Welcome.from_json(response.json(), new_user=response.status == 201)
        self.token = welcome.token
        return welcome

    async def disconnect(self) -> None:
        """Revoke this session's token.

        Raises ApiError (unauthorized) and the errors of `HttpClient.request`.
        """
        await self._call("POST", "/disconnect")

    async def status(self) -> Status:
        """The user's rooms, cursor, who is online.

        Raises ApiError and the errors of `HttpClient.request`.
        """
        return Status.from_json((await self._call("GET", "/status")).json())

    async def send(
        self, text: str, *, room: str | None = None, to: str | None = None, idempotency_key: str
    ) -> Message:
        """Send a message to `room` (default general) or to user `to`.

        Raises ApiError (validation_failed, not_member, not_found, banned,
        rate_limited) and the errors of `HttpClient.request`.
        """
        payload: dict[str, object] = {"text": text}
        if to is not None:
            payload["to"] = to
        elif room is not None:
            payload["room"] = room
        response = await self._call(
            "POST", "/send", payload, headers=(("Idempotency-Key", idempotency_key),)
        )
        obj = response.json()
        return Message.from_json(obj.get("message") if isinstance(obj, dict) else None)

    async def history(
        self, room: str, *, limit: int | None = None, before: int | None = None
    ) -> HistoryPage:
        """A page of a room's messages, newest first.

        Raises ApiError (not_member, not_found, validation_failed) and the
        errors of `HttpClient.request`.
        """
        query = encode_query({"before": before, "limit": limit})
        response = await self._call("GET", f"/rooms/{quote(room)}/messages{query}")
        return HistoryPage.from_json(response.json())

    async def events(
        self, after: int, *, timeout_s: float, limit: int | None = None, log: str | None = None
    ) -> EventsPage:
        """Long poll for the events after `after` (this acknowledges `after`).

        Raises ApiError (offset_out_of_range, log_mismatch) and the errors of
        `HttpClient.request`.
        """
        query = encode_query({"after": after, "timeout": timeout_s, "limit": limit, "log": log})
        response = await self._call("GET", f"/events{query}", timeout_s=timeout_s + POLL_MARGIN_S)
        return EventsPage.from_json(response.json())
