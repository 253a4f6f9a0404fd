"""Editing and deleting one's own messages, and searching the messages one may read.

`chat edit ID TEXT` replaces a message's text (the room sees it marked
`(edited)`), `chat delete ID` removes it with its comments and file, and
`chat search WORDS` finds messages, newest first, in every room of the
user or in one (`--room`, by id or name). In interactive mode `/edit`,
`/delete` (with `last` or `^` for the newest message shown in the room)
and `/search`; what an edit or a delete changes is shown when its event
comes back.
"""

from __future__ import annotations

import argparse
from collections.abc import Coroutine
from typing import Any, Final

from client.context import EXIT_OK, Context, UsageError, session_api
from client.http import encode_query
from client.jsonread import member
from client.messages import MAX_HISTORY, HistoryPage, Message, MessagesApi, message_line
from client.room_book import room_book
from client.slash import Shell, Start, Words, message_ref
from client.subcommand import Subcommand, message_id, positive, text_argument
from client.terminal import json_line

__all__ = ["DELETE", "EDIT", "SEARCH", "SLASH_HELP", "EditsApi", "slash_commands"]

SLASH_HELP: Final = """\
Your messages, and finding messages:
  /edit <id> <text>, /delete <id>   (id: #17, or last / ^ for the newest here)
  /search <words>                   in all your rooms, newest first"""


class EditsApi(MessagesApi):
    """`PATCH`/`DELETE /messages/{id}` and `GET /search`."""

    async def edit(self, message: int, text: str) -> Message:
        """Replace the text of one of the caller's messages; the message as it is now.

        Raises ApiError (validation_failed, forbidden, banned, not_found,
        rate_limited) and the errors of `HttpClient.request`.
        """
        response = await self.call("PATCH", f"/messages/{message}", {"text": text})
        return Message.from_json(member(response.json(), "message", "answer"))

    async def delete(self, message: int) -> None:
        """Delete one of the caller's messages (its comments and file go with it).

        Raises ApiError (forbidden, not_found, rate_limited) and the errors of `HttpClient.request`.
        """
        await self.call("DELETE", f"/messages/{message}")

    async def search(
        self, words: str, *, room: str | None, limit: int | None, before: int | None
    ) -> HistoryPage:
        """The messages the caller may read that hold every word, newest first.

        Raises ApiError (validation_failed, not_member, not_found) and the
        errors of `HttpClient.request`.
        """
        query = encode_query({"q": words, "room": room, "limit": limit, "before": before})
        response = await self.call("GET", f"/search{query}")
        return HistoryPage.from_json(response.json())


async def edit(ctx: Context, *, message: int, text: str) -> int:
    """Replace the text of one of the user's messages."""
    session = ctx.load()
    async with session_api(ctx, session, EditsApi) as api:
        edited = await ctx.retry(lambda: api.edit(message, text))
        book = await room_book(ctx, api, session.user, load=not ctx.slash)
    if ctx.json:
        ctx.say(json_line({"message": dict(edited.raw)}))
    elif not ctx.slash:  # interactive mode shows it when its event comes back
        ctx.say(message_line(edited, book.display))
    return EXIT_OK


async def delete(ctx: Context, *, message: int) -> int:
    """Delete one of the user's messages."""
    session = ctx.load()
    async with session_api(ctx, session, EditsApi) as api:
        await ctx.retry(lambda: api.delete(message))
    if ctx.json:
        ctx.say(json_line({"deleted": message}))
    elif not ctx.slash:
        ctx.say(f"deleted #{message}")
    return EXIT_OK


async def search(
    ctx: Context, *, words: str, room: str | None, limit: int, before: int | None
) -> int:
    """The newest `limit` messages that hold every word (oldest of them first)."""
    session = ctx.load()
    async with session_api(ctx, session, EditsApi) as api:
        book = await room_book(ctx, api, session.user)
        target = None if room is None else await book.resolve(room)
        page = await ctx.retry(lambda: api.search(words, room=target, limit=limit, before=before))
    if ctx.json:
        ctx.say(json_line(dict(page.raw)))
        return EXIT_OK
    for found in reversed(page.messages):
        ctx.say(message_line(found, book.display))
    if not page.messages:
        ctx.notice(f"no messages hold {words!r}")
    if page.next_before is not None:
        ctx.notice(f"older matches: chat search --before {page.next_before}")
    return EXIT_OK


def _limit(text: str) -> int:
    value = positive(text)
    if value > MAX_HISTORY:
        raise argparse.ArgumentTypeError(f"at most {MAX_HISTORY}")
    return value


def _edit_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("message", type=message_id, metavar="MESSAGE_ID")
    parser.add_argument("text", nargs="+", metavar="TEXT", help="the new text ('-': read stdin)")


def _delete_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("message", type=message_id, metavar="MESSAGE_ID")


def _search_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("words", nargs="+", metavar="WORD", help="every word must be in it")
    parser.add_argument("--room", help="only this room (id, name or @user)")
    parser.add_argument(
        "--limit", type=_limit, default=20, help="how many messages (default 20, max 500)"
    )
    parser.add_argument(
        "--before", type=positive, metavar="ID", help="only messages older than message ID"
    )


EDIT: Final = Subcommand(
    name="edit",
    summary="change the text of one of your messages",
    details="The room's members see the new text,\n"
    "marked (edited). Rate limits apply as to a send.",
    arguments=_edit_arguments,
    run=lambda args, ctx, stdin: edit(
        ctx, message=args.message, text=text_argument(args.text, stdin)
    ),
)
DELETE: Final = Subcommand(
    name="delete",
    summary="delete one of your messages",
    details="Its comments and its file go with it;\nthe room's members are told.",
    arguments=_delete_arguments,
    run=lambda args, ctx, stdin: delete(ctx, message=args.message),
)
SEARCH: Final = Subcommand(
    name="search",
    summary="find messages by their words",
    details="In every room you may read (or --room),\n"
    "newest matches, shown oldest first. `lun` finds Lunch: each word begins a word.",
    arguments=_search_arguments,
    run=lambda args, ctx, stdin: search(
        ctx, words=" ".join(args.words), room=args.room, limit=args.limit, before=args.before
    ),
)


def slash_commands(ctx: Context, shell: Shell) -> dict[str, Start]:
    """`/edit <id> <text>`, `/delete <id>`, `/search <words>`."""

    def edit_(words: str) -> Coroutine[Any, Any, int]:
        parts = Words(words)
        message = message_ref(shell, parts.take(), "/edit <id|last|^> <text>")
        if not parts.rest:
            raise UsageError("usage: /edit <id|last|^> <text>")
        return edit(ctx, message=message, text=parts.rest)

    def search_(words: str) -> Coroutine[Any, Any, int]:
        if not words.strip():
            raise UsageError("usage: /search <words>")
        return search(ctx, words=words.strip(), room=None, limit=20, before=None)

    return {
        "/edit": edit_,
        "/delete": lambda words: delete(
            ctx, message=message_ref(shell, words.strip(), "/delete <id|last|^>")
        ),
        "/search": search_,
    }
