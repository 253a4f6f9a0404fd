"""The API of rooms, join links, comments, scheduled messages, reports and files.

`SocialApi` is a `ChatApi` with the endpoints added for issues 6-8. JSON
calls share the keep-alive connection; uploads and downloads stream on a
connection of their own (`client.streaming`), so a file never sits whole in
memory and never holds up a message.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

from client.api import ApiError, ChatApi, ServerTroubleError
from client.http import BadResponseError, encode_query, quote
from client.jsonread import answer_list, member
from client.models import ApiErrorBody, Message, Room
from client.social_models import (
    Comment,
    JoinLink,
    JoinRequest,
    ReportOutcome,
    Scheduled,
)
from client.streaming import StreamedResponse, open_stream

__all__ = ["MAX_ERROR_BODY_BYTES", "SocialApi"]

# An error answer is a small JSON object; more than this is not one.
MAX_ERROR_BODY_BYTES: Final = 64 * 1024
DEFAULT_CONTENT_TYPE: Final = "application/octet-stream"


async def _raise_for_status(response: StreamedResponse) -> None:
    if response.status < 400:
        return
    body = await response.read(MAX_ERROR_BODY_BYTES)
    try:
        decoded: object = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        decoded = None
    error = ApiErrorBody.from_json(decoded, response.status)
    if response.status >= 500:
        raise ServerTroubleError(f"the server answered {response.status}: {error.message}")
    raise ApiError(response.status, error)


class SocialApi(ChatApi):
    """`ChatApi` plus group rooms, links, requests, comments, scheduling, reports, files."""

    # -- rooms ------------------------------------------------------------------------

    async def create_room(self, name: str, members: list[str]) -> Room:
        """Create a group room owned by the caller.

        Raises ApiError (validation_failed, not_found) and the errors of `HttpClient.request`.
        """
        payload: dict[str, object] = {"name": name}
        if members:
            payload["members"] = members
        response = await self._call("POST", "/rooms", payload)
        return Room.from_json(member(response.json(), "room", "answer"))

    async def invite(self, room: str, name: str) -> tuple[bool, Room]:
        """Make `name` a member of `room`; (True when newly added, the room).

        Raises ApiError (not_owner, not_found) and the errors of `HttpClient.request`.
        """
        response = await self._call("POST", f"/rooms/{quote(room)}/members", {"name": name})
        return response.status == 201, Room.from_json(member(response.json(), "room", "answer"))

    async def leave(self, room: str) -> None:
        """Leave `room`.

        Raises ApiError (not_found, conflict) and the errors of `HttpClient.request`.
        """
        await self._call("POST", f"/rooms/{quote(room)}/leave")

    async def create_link(self, room: str) -> JoinLink:
        """A new join link for `room` (owner only).

        Raises ApiError (not_owner, not_found) and the errors of `HttpClient.request`.
        """
        response = await self._call("POST", f"/rooms/{quote(room)}/links")
        return JoinLink.from_json(response.json())

    async def revoke_link(self, room: str, token: str) -> None:
        """Revoke a join link of `room` (owner only).

        Raises ApiError (not_owner, not_found) and the errors of `HttpClient.request`.
        """
        await self._call("DELETE", f"/rooms/{quote(room)}/links/{quote(token)}")

    async def join(self, token: str) -> JoinRequest:
        """Ask to join the room of a link (status `pending`, or `member` already).

        Raises ApiError (not_found) and the errors of `HttpClient.request`.
        """
        response = await self._call("POST", f"/join/{quote(token)}")
        return JoinRequest.from_json(member(response.json(), "request", "answer"))

    async def join_requests(self, room: str) -> tuple[JoinRequest, ...]:
        """The pending requests to join `room` (owner only).

        Raises ApiError (not_owner, not_found) and the errors of `HttpClient.request`.
        """
        response = await self._call("GET", f"/rooms/{quote(room)}/requests")
        return tuple(JoinRequest.from_json(r) for r in answer_list(response.json(), "requests"))

    async def decide(self, room: str, name: str, *, approve: bool) -> JoinRequest:
        """Approve or reject `name`'s pending request to join `room`.

        Raises ApiError (not_owner, not_found) and the errors of `HttpClient.request`.
        """
        response = await self._call(
            "POST", f"/rooms/{quote(room)}/requests/{quote(name)}", {"approve": approve}
        )
        return JoinRequest.from_json(member(response.json(), "request", "answer"))

    # -- comments -----------------------------------------------------------------------

    async def comment(self, message: int, text: str) -> Comment:
        """Comment on message `message`.

        Raises ApiError (validation_failed, not_found, not_member, banned) and
        the errors of `HttpClient.request`.
        """
        response = await self._call("POST", f"/messages/{message}/comments", {"text": text})
        return Comment.from_json(member(response.json(), "comment", "answer"))

    async def comments(self, message: int) -> tuple[Comment, ...]:
        """The comments on message `message`, oldest first.

        Raises ApiError (not_found, not_member) and the errors of `HttpClient.request`.
        """
        response = await self._call("GET", f"/messages/{message}/comments")
        return tuple(Comment.from_json(c) for c in answer_list(response.json(), "comments"))

    # -- scheduled messages -------------------------------------------------------------

    async def schedule(
        self,
        text: str,
        *,
        send_at: float,
        room: str | None = None,
        to: str | None = None,
        idempotency_key: str,
    ) -> Scheduled | Message:
        """Send `text` at `send_at`: a Scheduled, or the Message when that time has come.

        Raises ApiError (validation_failed, not_member, not_found, banned) and
        the errors of `HttpClient.request`.
        """
        payload: dict[str, object] = {"text": text, "send_at": send_at}
        if to is not None:
            payload["to"] = to
        elif room is not None:
            payload["room"] = room
        response = await self._call(
            "POST", "/send", payload, headers=(("Idempotency-Key", idempotency_key),)
        )
        if response.status == 202:
            return Scheduled.from_json(member(response.json(), "scheduled", "answer"))
        return Message.from_json(member(response.json(), "message", "answer"))

    async def scheduled(self) -> tuple[Scheduled, ...]:
        """The caller's pending scheduled messages, soonest first.

        Raises ApiError and the errors of `HttpClient.request`.
        """
        response = await self._call("GET", "/scheduled")
        return tuple(Scheduled.from_json(s) for s in answer_list(response.json(), "scheduled"))

    async def cancel(self, scheduled: int) -> None:
        """Cancel one of the caller's pending scheduled messages.

        Raises ApiError (not_found, conflict) and the errors of `HttpClient.request`.
        """
        await self._call("DELETE", f"/scheduled/{scheduled}")

    # -- moderation ---------------------------------------------------------------------

    async def report(self, name: str, reason: str | None = None) -> ReportOutcome:
        """Report user `name`.

        Raises ApiError (validation_failed, not_found) and the errors of `HttpClient.request`.
        """
        payload = {"reason": reason} if reason is not None else None
        response = await self._call("POST", f"/users/{quote(name)}/report", payload)
        return ReportOutcome.from_json(response.json())

    # -- files ---------------------------------------------------------------------------

    def _auth_headers(self) -> list[tuple[str, str]]:
        headers = [("Accept", "application/json")]
        if self.token is not None:
            headers.append(("Authorization", f"Bearer {self.token}"))
        return headers

    async def upload(
        self,
        body: AsyncIterable[bytes],
        *,
        name: str,
        size: int | None,
        content_type: str = DEFAULT_CONTENT_TYPE,
        room: str | None = None,
        to: str | None = None,
        text: str | None = None,
        idempotency_key: str,
    ) -> Message:
        """Upload a file as a message, streaming `body` (chunked when `size` is None).

        Raises ApiError (too_large, validation_failed, not_member, banned,
        not_found, rate_limited), NetworkError, BodyLengthError (`body` is not
        `size` long), BadResponseError.
        """
        query = encode_query({"room": room, "to": to, "name": name, "text": text})
        headers = [
            *self._auth_headers(),
            ("Content-Type", content_type),
            ("Idempotency-Key", idempotency_key),
        ]
        async with open_stream(
            self.http.origin,
            "POST",
            f"/files{query}",
            headers=headers,
            body=body,
            content_length=size,
            timeout_s=self.http.timeout_s,
            user_agent=self.http.user_agent,
        ) as response:
            await _raise_for_status(response)
            answer = await response.read(MAX_ERROR_BODY_BYTES)
        try:
            decoded: object = json.loads(answer.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise BadResponseError(f"response {response.status} is not JSON") from exc
        return Message.from_json(member(decoded, "message", "answer"))

    @asynccontextmanager
    async def download(self, message: int) -> AsyncIterator[StreamedResponse]:
        """The file of message `message`: a 200 response whose body is read as it streams.

        Raises ApiError (not_member, not_found), NetworkError, BadResponseError.
        """
        async with open_stream(
            self.http.origin,
            "GET",
            f"/messages/{message}/file",
            headers=self._auth_headers(),
            timeout_s=self.http.timeout_s,
            user_agent=self.http.user_agent,
        ) as response:
            await _raise_for_status(response)
            if response.status != 200:
                raise BadResponseError(f"a download answered {response.status}")
            yield response
