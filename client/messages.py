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
from client.display import Display, EventLines
from client.http import encode_query, quote
from client.jsonread import (
    array,
    integer,
    integer_or_none,
    member,
    nullable_integer,
    number,
    number_or_none,
    obj,
    parsed_or_none,
    string,
    string_or_none,
)
from client.room_book import room_book
from client.slash import Shell, Start, Words, message_ref
from client.subcommand import Subcommand, message_id, positive, text_argument
from client.terminal import direct_room, json_line, printable, size_text, when

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
  /comment <id> <text>, /comments <id>   (id: #17, or last / ^ for the newest here)"""


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
    file_size: int | None = None
    edited: float | None = None  # when its author last edited it
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
            file_size=integer_or_none(file, "size") if isinstance(file, dict) else None,
            edited=number_or_none(fields, "edited"),
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


@frozen(kw_only=True)
class CommentsPage:
    """`GET /messages/{id}/comments`: oldest first, and the `after` of the next page."""

    comments: tuple[Comment, ...]
    next: int | None

    @classmethod
    def from_json(cls, value: object) -> CommentsPage:
        """Raises BadResponseError when `value` is not a page of comments."""
        fields = obj(value, "comments page")
        items = array(fields, "comments", "comments page")
        return cls(
            comments=tuple(Comment.from_json(c) for c in items),
            next=nullable_integer(fields, "next", "comments page"),
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

    async def comments_page(
        self, message: int, *, after: int | None = None, limit: int | None = None
    ) -> CommentsPage:
        """A page of the comments on message `message`, oldest first.

        Raises ApiError (not_found, not_member) and the errors of `HttpClient.request`.
        """
        query = encode_query({"after": after, "limit": limit})
        response = await self.call("GET", f"/messages/{message}/comments{query}")
        return CommentsPage.from_json(response.json())


def message_line(message: Message, display: Display, *, now: float | None = None) -> str:
    """`14:05 #17 [general] alice: hi (edited) [file: a.txt, 12 B] (2 comments)`.

    Continuation lines are indented; the time has a date when it is not today.
    """
    text = display.text(message.text).replace("\n", "\n      ")
    if message.file_name is not None:
        # Without a caption the server makes the file's name the text: show it once.
        caption = "" if message.text == message.file_name else text
        size = "" if message.file_size is None else f", {size_text(message.file_size)}"
        text = f"{caption} [file: {printable(message.file_name)}{size}]".lstrip(" ")
    if message.edited is not None:
        text += display.faint(" (edited)")
    if message.comments:
        text += display.faint(f" ({message.comments} comment{'s' if message.comments > 1 else ''})")
    stamp = display.faint(f"{when(message.ts, now)} #{message.id}")
    return f"{stamp} {display.room(message.room)} {display.author(message.author)}: {text}"


def comment_line(comment: Comment, display: Display, *, now: float | None = None) -> str:
    """`14:05 #18 [general] re #17 bob: nice` (17: the message commented on)."""
    text = display.text(comment.text).replace("\n", "\n      ")
    stamp = display.faint(f"{when(comment.ts, now)} #{comment.id}")
    room, author = display.room(comment.room), display.author(comment.author)
    return f"{stamp} {room} re #{comment.message} {author}: {text}"


def _commented(fields: Mapping[str, Any], display: Display) -> str:
    comment = parsed_or_none(Comment.from_json, fields.get("comment"))
    if comment is None:
        return "* a message got a comment"
    return comment_line(comment, display)


def _edited(fields: Mapping[str, Any], display: Display) -> str:
    message = parsed_or_none(Message.from_json, fields.get("message"))
    if message is None:
        return "* a message was edited"
    return f"{message_line(message, display)}"


def _deleted(fields: Mapping[str, Any], display: Display) -> str:
    room = fields.get("room")
    where = f" in {display.label(room)}" if isinstance(room, str) else ""
    return display.system(f"* message #{fields.get('message')}{where} was deleted")


# Lines that carry their own time (the others get the event's clock in front).
EVENT_LINES: Final[EventLines] = {
    "message.commented": _commented,
    "message.edited": _edited,
    "message.deleted": _deleted,
}
TIMED_EVENTS: Final = frozenset({"message.commented", "message.edited"})


async def send(ctx: Context, *, text: str, room: str | None, to: str | None) -> int:
    """Send one message (retried with the same Idempotency-Key); `room` may be a room's name."""
    session = ctx.load()
    key = new_idempotency_key()
    async with session_api(ctx, session, MessagesApi) as api:
        book = await room_book(ctx, api, session.user, load=False)
        target = None if room is None else await book.resolve(room)
        message = await ctx.retry(lambda: api.send(text, room=target, to=to, idempotency_key=key))
        if not ctx.json:
            await book.load()
    ctx.say(json_line(dict(message.raw)) if ctx.json else message_line(message, book.display))
    return EXIT_OK


async def history(
    ctx: Context, *, room: str, to: str | None = None, limit: int, before: int | None = None
) -> int:
    """The last `limit` messages of a room (or of the direct room with `to`), oldest first.

    `room` may be a room's id, its name or `@user`. With `before`, the page
    older than that message id; the id to page on is printed. The newest
    page marks the room read (on the server).
    """
    session = ctx.load()
    async with session_api(ctx, session, MessagesApi) as api:
        book = await room_book(ctx, api, session.user)
        target = direct_room(session.user, to) if to is not None else await book.resolve(room)
        page = await ctx.retry(lambda: api.history(target, limit=limit, before=before))
    if ctx.json:
        ctx.say(json_line(dict(page.raw)))
        return EXIT_OK
    for message in reversed(page.messages):
        ctx.say(message_line(message, book.display))
    if not page.messages:
        ctx.notice(f"no messages in {book.display.label(target)}")
    if page.next_before is not None:
        ctx.notice(f"older messages: add --before {page.next_before}")
    return EXIT_OK


async def comment(ctx: Context, *, message: int, text: str) -> int:
    """Comment on a message."""
    session = ctx.load()
    async with session_api(ctx, session, MessagesApi) as api:
        made = await api.comment(message, text)
        book = await room_book(ctx, api, session.user, load=not ctx.slash)
    if ctx.json:
        ctx.say(json_line(dict(made.raw)))
    elif not ctx.slash:  # interactive mode shows it when it comes back as an event
        ctx.say(comment_line(made, book.display))
    return EXIT_OK


async def comments(ctx: Context, *, message: int, after: int | None, limit: int | None) -> int:
    """The comments on a message, oldest first: one page (`after`, `limit`), or all of them."""
    session = ctx.load()
    async with session_api(ctx, session, MessagesApi) as api:
        book = await room_book(ctx, api, session.user)
        found: list[Comment] = []
        cursor = after
        while True:
            page = await ctx.retry(
                lambda at=cursor: api.comments_page(message, after=at, limit=limit)  # type: ignore[misc]
            )
            found.extend(page.comments)
            cursor = page.next
            if cursor is None or limit is not None:
                break
    if ctx.json:
        answer = {"message": message, "comments": [dict(c.raw) for c in found], "next": cursor}
        ctx.say(json_line(answer))
        return EXIT_OK
    for item in found:
        ctx.say(comment_line(item, book.display))
    if not found:
        ctx.notice(f"no comments on #{message}")
    if cursor is not None:
        ctx.notice(f"more comments: add --after {cursor}")
    return EXIT_OK


def _history_limit(text: str) -> int:
    value = positive(text)
    if value > MAX_HISTORY:
        raise argparse.ArgumentTypeError(f"at most {MAX_HISTORY}")
    return value


def _send_arguments(parser: argparse.ArgumentParser) -> None:
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--room", help="room id or name, or @user (default: general)")
    target.add_argument("--to", metavar="USER", help="send a direct message to USER")
    parser.add_argument("text", nargs="+", metavar="TEXT", help="the message ('-': read stdin)")


def _history_arguments(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--room", default="general", help="room id or name, or @user (default: general)"
    )
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
    parser.add_argument(
        "--after", type=positive, metavar="ID", help="only comments after comment ID"
    )
    parser.add_argument(
        "--limit", type=_history_limit, help="one page of this many (default: all of them)"
    )


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
    details="MESSAGE_ID is the #id every message line\nshows. Members of the message's room only.",
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
    run=lambda args, ctx, stdin: comments(
        ctx, message=args.message, after=args.after, limit=args.limit
    ),
)


def slash_commands(ctx: Context, shell: Shell) -> dict[str, Start]:
    """`/comment <id> <text>` and `/comments <id>`."""

    def comment_(words: str) -> Coroutine[Any, Any, int]:
        parts = Words(words)
        message = message_ref(shell, parts.take(), "/comment <id|last|^> <text>")
        if not parts.rest:
            raise UsageError("usage: /comment <id> <text>")
        return comment(ctx, message=message, text=parts.rest)

    return {
        "/comment": comment_,
        "/comments": lambda words: comments(
            ctx,
            message=message_ref(shell, words.strip(), "/comments <id|last|^>"),
            after=None,
            limit=None,
        ),
    }
