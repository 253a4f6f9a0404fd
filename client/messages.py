"""Messages: sending, a room's history, and comments on a message.

A message goes to `general`, to a room (`--room`), or to a user (`--to`,
in the direct room of the two). Every send carries an `Idempotency-Key`
that its retries reuse, so a message whose answer was lost is stored once.
A message's id is the offset of its event; comments name the message they
are on (`re #17`).
"""

from __future__ import annotations

import argparse
from collections.abc import Coroutine, Mapping
from typing import Any, Final

from attrs import field, frozen

from client.api import Api
from client.context import EXIT_OK, Context, UsageError, new_idempotency_key, session_api
from client.http import encode_query, quote
from client.jsonread import (
    answer_list,
    array,
    integer,
    integer_or_none,
    member,
    nullable_integer,
    number,
    obj,
    parsed_or_none,
    string,
    string_or_none,
)
from client.slash import Shell, Start, Words, parse_id
from client.subcommand import Subcommand, message_id, positive, text_argument
from client.terminal import EventLines, clock, direct_room, json_line, printable, room_label

__all__ = [
    "COMMENT",
    "COMMENTS",
    "EVENT_LINES",
    "HISTORY",
    "MAX_HISTORY",
    "SEND",
    "SLASH_HELP",
    "Comment",
    "HistoryPage",
    "Message",
    "MessagesApi",
    "comment",
    "comment_line",
    "comments",
    "history",
    "message_line",
    "send",
    "slash_commands",
]

MAX_HISTORY: Final = 500
SLASH_HELP: Final = """\
Messages:
  /comment <id> <text>, /comments <id>"""


@frozen(kw_only=True)
class Message:
    """A chat message; `id` is the offset of its `message.sent` event."""

    id: int
    room: str
    author: str
    text: str
    ts: float
    comments: int = 0
    file_name: str | None = None
    raw: Mapping[str, Any] = field(factory=dict, eq=False, repr=False)

    @classmethod
    def from_json(cls, value: object) -> Message:
        """Raises BadResponseError when `value` is not a message object."""
        fields = obj(value, "message")
        file = fields.get("file")
        return cls(
            id=integer(fields, "id", "message"),
            room=string(fields, "room", "message"),
            author=string(fields, "author", "message"),
            text=string(fields, "text", "message"),
            ts=number(fields, "ts", "message"),
            comments=integer_or_none(fields, "comments") or 0,
            file_name=string_or_none(file, "name") if isinstance(file, dict) else None,
            raw=fields,
        )


@frozen(kw_only=True)
class HistoryPage:
    """`GET /rooms/{room}/messages`: newest first, and where the next older page starts."""

    messages: tuple[Message, ...]
    next_before: int | None
    raw: Mapping[str, Any] = field(factory=dict, eq=False, repr=False)

    @classmethod
    def from_json(cls, value: object) -> HistoryPage:
        """Raises BadResponseError when `value` is not a history page."""
        fields = obj(value, "history page")
        messages = array(fields, "messages", "history page")
        return cls(
            messages=tuple(Message.from_json(m) for m in messages),
            next_before=nullable_integer(fields, "next_before", "history page"),
            raw=fields,
        )


@frozen(kw_only=True)
class Comment:
    """A comment on a message; `id` is the offset of its event."""

    id: int
    message: int
    room: str
    author: str
    text: str
    ts: float
    raw: Mapping[str, Any] = field(factory=dict, eq=False, repr=False)

    @classmethod
    def from_json(cls, value: object) -> Comment:
        """Raises BadResponseError when `value` is not a comment object."""
        fields = obj(value, "comment")
        return cls(
            id=integer(fields, "id", "comment"),
            message=integer(fields, "message", "comment"),
            room=string(fields, "room", "comment"),
            author=string(fields, "author", "comment"),
            text=string(fields, "text", "comment"),
            ts=number(fields, "ts", "comment"),
            raw=fields,
        )


class MessagesApi(Api):
    """The endpoints of messages and comments."""

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
        response = await self.call(
            "POST", "/send", payload, headers=(("Idempotency-Key", idempotency_key),)
        )
        answer = response.json()
        return Message.from_json(answer.get("message") if isinstance(answer, dict) else None)

    async def history(
        self, room: str, *, limit: int | None = None, before: int | None = None
    ) -> HistoryPage:
        """A page of a room's messages, newest first.

        Raises ApiError (not_member, not_found, validation_failed) and the
        errors of `HttpClient.request`.
        """
        query = encode_query({"before": before, "limit": limit})
        response = await self.call("GET", f"/rooms/{quote(room)}/messages{query}")
        return HistoryPage.from_json(response.json())

    async def comment(self, message: int, text: str) -> Comment:
        """Comment on message `message`.

        Raises ApiError (validation_failed, not_found, not_member, banned) and
        the errors of `HttpClient.request`.
        """
        response = await self.call("POST", f"/messages/{message}/comments", {"text": text})
        return Comment.from_json(member(response.json(), "comment", "answer"))

    async def comments(self, message: int) -> tuple[Comment, ...]:
        """The comments on message `message`, oldest first.

        Raises ApiError (not_found, not_member) and the errors of `HttpClient.request`.
        """
        response = await self.call("GET", f"/messages/{message}/comments")
        return tuple(Comment.from_json(c) for c in answer_list(response.json(), "comments"))


def message_line(message: Message, me: str) -> str:
    """`12:34 [general] alice: hi` (continuation lines indented)."""
    text = printable(message.text).replace("\n", "\n      ")
    if message.file_name is not None:
        # Without a caption the server makes the file's name the text: show it once.
        caption = "" if message.text == message.file_name else text
        text = f"{caption} [file: {printable(message.file_name)}]".lstrip(" ")
    label = room_label(message.room, me)
    return f"{clock(message.ts)} [{label}] {printable(message.author)}: {text}"


def comment_line(comment: Comment, me: str) -> str:
    """`12:34 [general] re #17 bob: nice` (17: the message commented on)."""
    text = printable(comment.text).replace("\n", "\n      ")
    label = room_label(comment.room, me)
    return (
        f"{clock(comment.ts)} [{label}] re #{comment.message} {printable(comment.author)}: {text}"
    )


def _commented(fields: Mapping[str, Any], me: str) -> str:
    comment = parsed_or_none(Comment.from_json, fields.get("comment"))
    if comment is None:
        return "* a message got a comment"
    # The clock is added to every event line; keep the rest of `comment_line`.
    return comment_line(comment, me).split(" ", 1)[1]


EVENT_LINES: Final[EventLines] = {"message.commented": _commented}


async def send(ctx: Context, *, text: str, room: str | None, to: str | None) -> int:
    """Send one message (retried with the same Idempotency-Key)."""
    session = ctx.load()
    key = new_idempotency_key()
    async with session_api(ctx, session, MessagesApi) as api:
        message = await ctx.retry(lambda: api.send(text, room=room, to=to, idempotency_key=key))
    ctx.say(json_line(dict(message.raw)) if ctx.json else message_line(message, session.user))
    return EXIT_OK


async def history(
    ctx: Context, *, room: str, to: str | None = None, limit: int, before: int | None = None
) -> int:
    """The last `limit` messages of a room (or of the direct room with `to`), oldest first.

    With `before`, the page older than that message id; the id to page on is printed.
    """
    session = ctx.load()
    if to is not None:
        room = direct_room(session.user, to)
    async with session_api(ctx, session, MessagesApi) as api:
        page = await ctx.retry(lambda: api.history(room, limit=limit, before=before))
    if ctx.json:
        ctx.say(json_line(dict(page.raw)))
        return EXIT_OK
    for message in reversed(page.messages):
        ctx.say(message_line(message, session.user))
    if not page.messages:
        ctx.notice(f"no messages in {room}")
    if page.next_before is not None:
        ctx.notice(f"older messages: add --before {page.next_before}")
    return EXIT_OK


async def comment(ctx: Context, *, message: int, text: str) -> int:
    """Comment on a message."""
    session = ctx.load()
    async with session_api(ctx, session, MessagesApi) as api:
        made = await api.comment(message, text)
    ctx.say(json_line(dict(made.raw)) if ctx.json else comment_line(made, session.user))
    return EXIT_OK


async def comments(ctx: Context, *, message: int) -> int:
    """The comments on a message, oldest first."""
    session = ctx.load()
    async with session_api(ctx, session, MessagesApi) as api:
        found = await ctx.retry(lambda: api.comments(message))
    if ctx.json:
        ctx.say(json_line({"message": message, "comments": [dict(c.raw) for c in found]}))
        return EXIT_OK
    for item in found:
        ctx.say(comment_line(item, session.user))
    if not found:
        ctx.notice(f"no comments on #{message}")
    return EXIT_OK


def _history_limit(text: str) -> int:
    value = positive(text)
    if value > MAX_HISTORY:
        raise argparse.ArgumentTypeError(f"at most {MAX_HISTORY}")
    return value


def _send_arguments(parser: argparse.ArgumentParser) -> None:
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--room", help="room id (default: general)")
    target.add_argument("--to", metavar="USER", help="send a direct message to USER")
    parser.add_argument("text", nargs="+", metavar="TEXT", help="the message ('-': read stdin)")


def _history_arguments(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--room", default="general", help="room id (default: general)")
    which.add_argument("--to", metavar="USER", help="the direct room with USER")
    parser.add_argument(
        "--limit", type=_history_limit, default=20, help="how many messages (default 20, max 500)"
    )
    parser.add_argument(
        "--before", type=positive, metavar="ID", help="only messages older than message ID"
    )


def _comment_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("message", type=message_id, metavar="MESSAGE_ID")
    parser.add_argument("text", nargs="+", metavar="TEXT", help="the comment ('-': read stdin)")


def _comments_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("message", type=message_id, metavar="MESSAGE_ID")


SEND: Final = Subcommand(
    name="send",
    summary="send one message",
    details="To general, to --room R, or --to USER as a direct\n"
    "message. Words are joined with spaces. A failed attempt is retried with the\n"
    "same Idempotency-Key, so the message is sent once.",
    arguments=_send_arguments,
    run=lambda args, ctx, stdin: send(
        ctx, text=text_argument(args.text, stdin), room=args.room, to=args.to
    ),
)
HISTORY: Final = Subcommand(
    name="history",
    summary="recent messages of a room",
    details="Oldest first; with --json, the server's page\n(newest first, with next_before).",
    arguments=_history_arguments,
    run=lambda args, ctx, stdin: history(
        ctx, room=args.room, to=args.to, limit=args.limit, before=args.before
    ),
)
COMMENT: Final = Subcommand(
    name="comment",
    summary="comment on a message",
    details="MESSAGE_ID is the id `history --json` and\n"
    "`watch --json` show. Members of the message's room only.",
    arguments=_comment_arguments,
    run=lambda args, ctx, stdin: comment(
        ctx, message=args.message, text=text_argument(args.text, stdin)
    ),
)
COMMENTS: Final = Subcommand(
    name="comments",
    summary="the comments on a message",
    details="Oldest first, one line each;\nwith --json, the server's list.",
    arguments=_comments_arguments,
    run=lambda args, ctx, stdin: comments(ctx, message=args.message),
)


def slash_commands(ctx: Context, shell: Shell) -> dict[str, Start]:
    """`/comment <id> <text>` and `/comments <id>`."""

    def comment_(words: str) -> Coroutine[Any, Any, int]:
        parts = Words(words)
        message = parse_id(parts.take(), "/comment <id> <text>")
        if not parts.rest:
            raise UsageError("usage: /comment <id> <text>")
        return comment(ctx, message=message, text=parts.rest)

    return {
        "/comment": comment_,
        "/comments": lambda words: comments(ctx, message=parse_id(words.strip(), "/comments <id>")),
    }
