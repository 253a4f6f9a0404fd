"""The `chat` subcommands for rooms, links, requests, comments, reports, scheduling, files.

`add_subcommands` registers them on the parser of `client.cli` (the room
actions go under its `rooms` subcommand); `command_for` turns parsed
arguments into the coroutine to run, or None for the subcommands `cli`
handles itself.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, TextIO

from client import files, schedule, social
from client.commands import Context

__all__ = ["add_subcommands", "command_for"]

SubParsers = Any  # argparse's `_SubParsersAction` is private


def _message_id(text: str) -> int:
    text = text.removeprefix("#")
    if not (text.isascii() and text.isdecimal()) or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a message id (a positive number), not {text!r}")
    return int(text)


def _target(parser: argparse.ArgumentParser, what: str) -> None:
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--room", help=f"room id or @user to {what} to (default: general)")
    target.add_argument("--to", metavar="USER", help=f"{what} directly to USER")


def _adder(
    sub: SubParsers, parents: list[argparse.ArgumentParser]
) -> Callable[[str, str, str], argparse.ArgumentParser]:
    def add(name: str, summary: str, details: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = sub.add_parser(
            name,
            parents=parents,
            help=summary,
            description=f"{summary[0].upper()}{summary[1:]}. {details}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        return parser

    return add


def _room_actions(rooms: argparse.ArgumentParser, parents: list[argparse.ArgumentParser]) -> None:
    actions = rooms.add_subparsers(
        dest="rooms_action",
        metavar="ACTION",
        description="Without an action: your rooms with unread counts.",
    )
    add = _adder(actions, parents)
    add(
        "list",
        "your rooms with unread counts (the default)",
        "The same as `chat rooms`\n"
        "without an action: each room's id, kind, unread count and members.",
    )
    create = add(
        "create",
        "create a private group room; you own it",
        "Its id is g<number>; only\n"
        "members see it. --members adds users at once; later, invite them or\n"
        "give out a join link.",
    )
    create.add_argument("name", metavar="NAME", help="the room's name (1-64 characters)")
    create.add_argument(
        "--members", metavar="A,B", help="comma-separated users who become members at once"
    )
    invite = add(
        "invite",
        "make USER a member of ROOM (owner only)",
        "The user becomes a member at\nonce; inviting a member again changes nothing.",
    )
    invite.add_argument("room", metavar="ROOM")
    invite.add_argument("user", metavar="USER")
    link = add(
        "link",
        "create a join link for ROOM (owner only)",
        "Prints the secret token on\n"
        "stdout and the /join/TOKEN path on stderr. Whoever has it can ask to\n"
        "join with `chat join TOKEN`; you approve or reject each request.",
    )
    link.add_argument("room", metavar="ROOM")
    revoke = add(
        "revoke",
        "revoke a join link (owner only)",
        "Nobody can ask to join through it\n"
        "any more; requests already made stay pending for you to decide.",
    )
    revoke.add_argument("room", metavar="ROOM")
    revoke.add_argument("token", metavar="TOKEN", help="the token, or the /join/TOKEN path")


def add_subcommands(
    sub: SubParsers,
    common: Sequence[argparse.ArgumentParser],
    *,
    rooms: argparse.ArgumentParser,
) -> None:
    """Register the subcommands (and the actions of `rooms`) on `chat`'s parser."""
    parents = list(common)
    _room_actions(rooms, parents)
    add = _adder(sub, parents)

    join = add(
        "join",
        "ask to join a room through its join link",
        "The room's owner approves or\nrejects the request; `chat watch` shows the answer.",
    )
    join.add_argument("token", metavar="TOKEN", help="the token, /join/TOKEN, or the link URL")
    requests = add(
        "requests",
        "pending requests to join ROOM (owner only)",
        "Who asked and when; decide\nwith `chat approve ROOM USER` or `chat reject ROOM USER`.",
    )
    requests.add_argument("room", metavar="ROOM")
    for name in ("approve", "reject"):
        decide = add(
            name,
            f"{name} USER's request to join ROOM (owner only)",
            "Only a pending request\ncan be decided; the user sees the decision as an event.",
        )
        decide.add_argument("room", metavar="ROOM")
        decide.add_argument("user", metavar="USER")
    leave = add(
        "leave",
        "leave a room",
        "Not general, not a direct room, and not a room you own\nwhile others are in it.",
    )
    leave.add_argument("room", metavar="ROOM")

    comment = add(
        "comment",
        "comment on a message",
        "MESSAGE_ID is the id `history --json` and\n"
        "`watch --json` show. Members of the message's room only.",
    )
    comment.add_argument("message", type=_message_id, metavar="MESSAGE_ID")
    comment.add_argument("text", nargs="+", metavar="TEXT", help="the comment ('-': read stdin)")
    comments = add(
        "comments",
        "the comments on a message",
        "Oldest first, one line each;\nwith --json, the server's list.",
    )
    comments.add_argument("message", type=_message_id, metavar="MESSAGE_ID")

    report = add(
        "report",
        "report a user",
        "Each user's report counts once; enough reports from\ndifferent users ban the "
        "reported user from sending for a while.",
    )
    report.add_argument("user", metavar="USER")
    report.add_argument("--reason", metavar="R", help="why (at most 500 characters)")

    sched = add(
        "schedule",
        "send a message later",
        "The server sends it at that time, also\nafter a restart. TIME is ISO 8601 "
        "(2026-11-23T14:05, local time without an\noffset; ...Z or +01:00 with one) or HH:MM "
        "(the next time the clock shows it).\nDURATION is 90, 90s, 15m, 2h, 1d or 1h30m. "
        "A time that has passed sends\nat once; at most 30 days ahead.",
    )
    when = sched.add_mutually_exclusive_group(required=True)
    when.add_argument("--at", metavar="TIME", help="when to send it")
    when.add_argument("--in", dest="after", metavar="DURATION", help="how long from now")
    _target(sched, "send it")
    sched.add_argument("text", nargs="+", metavar="TEXT", help="the message ('-': read stdin)")
    add(
        "scheduled",
        "your pending scheduled messages",
        "Soonest first, with the id that\n`chat cancel ID` takes.",
    )
    cancel = add(
        "cancel",
        "cancel a scheduled message",
        "Only your own, and only while it is\npending (not yet sent or cancelled).",
    )
    cancel.add_argument("id", type=_message_id, metavar="ID", help="as `chat scheduled` shows")

    upload = add(
        "upload",
        "send a file as a message",
        "Streamed from disk (never whole in\nmemory), with a progress line on stderr for large "
        "files on a terminal. The\nserver's size limit applies (5 MiB unless configured).",
    )
    upload.add_argument("path", type=Path, metavar="PATH")
    _target(upload, "send it")
    upload.add_argument("--text", help="a caption sent with the file")
    upload.add_argument("--name", help="the file name others see (default: the file's own)")
    upload.add_argument(
        "--type", dest="content_type", metavar="MIME", help="content type (default: from the name)"
    )
    download = add(
        "download",
        "save the file of a message",
        "Streamed to disk and checked against\nthe size and SHA-256 the server sends; "
        "nothing is left behind when it fails.\nWithout -o, saved here under the uploader's "
        "file name, made safe. Exit\nstatus 1 also when the file exists (without --force) "
        "or cannot be written.",
    )
    download.add_argument("message", type=_message_id, metavar="MESSAGE_ID")
    download.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        help="file or directory to save to, - for standard output (default: its own name, here)",
    )
    download.add_argument("--force", action="store_true", help="replace an existing file")


def _text(words: list[str], stdin: TextIO) -> str:
    if words == ["-"]:
        return stdin.read().rstrip("\n")
    return " ".join(words)


def command_for(
    args: argparse.Namespace, ctx: Context, stdin: TextIO
) -> Coroutine[Any, Any, int] | None:
    """The coroutine for a subcommand of this module, None for the others.

    Raises UsageError for arguments that parse but make no sense together.
    """
    match args.command:
        case "rooms":
            return _rooms_command(args, ctx)
        case "join":
            return social.join(ctx, link_or_token=args.token)
        case "requests":
            return social.requests(ctx, room=args.room)
        case "approve" | "reject":
            return social.approve(
                ctx, room=args.room, user=args.user, yes=args.command == "approve"
            )
        case "leave":
            return social.leave(ctx, room=args.room)
        case "comment":
            return social.comment(ctx, message=args.message, text=_text(args.text, stdin))
        case "comments":
            return social.comments(ctx, message=args.message)
        case "report":
            return social.report(ctx, user=args.user, reason=args.reason)
        case "schedule":
            send_at = schedule.send_time(at=args.at, after=args.after)
            return schedule.schedule(
                ctx, text=_text(args.text, stdin), send_at=send_at, room=args.room, to=args.to
            )
        case "scheduled":
            return schedule.scheduled(ctx)
        case "cancel":
            return schedule.cancel(ctx, scheduled_id=args.id)
        case "upload":
            return files.upload(
                ctx,
                path=args.path,
                room=args.room,
                to=args.to,
                text=args.text,
                content_type=args.content_type,
                name=args.name,
            )
        case "download":
            return files.download(ctx, message=args.message, output=args.output, force=args.force)
    return None


def _rooms_command(args: argparse.Namespace, ctx: Context) -> Coroutine[Any, Any, int] | None:
    match getattr(args, "rooms_action", None):
        case "create":
            return social.create_room(
                ctx, name=args.name, members=social.members_list(args.members)
            )
        case "invite":
            return social.invite(ctx, room=args.room, user=args.user)
        case "link":
            return social.link(ctx, room=args.room)
        case "revoke":
            return social.revoke(ctx, room=args.room, token=args.token)
    return None  # listing: `client.commands.rooms`
