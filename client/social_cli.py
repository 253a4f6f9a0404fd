"""The `chat` subcommands for rooms, links, requests, comments, reports, scheduling, files.

`add_subcommands` registers them on the parser of `client.cli` (the room
actions go under its `rooms` subcommand); `command_for` turns parsed
arguments into the coroutine to run, or None for the subcommands `cli`
handles itself.
"""

from __future__ import annotations

import argparse
from collections.abc import Coroutine, Sequence
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
    target.add_argument("--room", help=f"room id or @user (default: general) {what}")
    target.add_argument("--to", metavar="USER", help=f"{what} directly to USER")


def _room_actions(
    rooms: argparse.ArgumentParser, common: Sequence[argparse.ArgumentParser]
) -> None:
    actions = rooms.add_subparsers(
        dest="rooms_action",
        metavar="ACTION",
        description="Without an action: your rooms with unread counts.",
    )
    actions.add_parser("list", parents=common, help="your rooms with unread counts (the default)")
    create = actions.add_parser(
        "create", parents=common, help="create a private group room; you own it"
    )
    create.add_argument("name", metavar="NAME", help="the room's name (1-64 characters)")
    create.add_argument(
        "--members", metavar="A,B", help="comma-separated users who become members at once"
    )
    invite = actions.add_parser(
        "invite", parents=common, help="make USER a member of ROOM (owner only)"
    )
    invite.add_argument("room", metavar="ROOM")
    invite.add_argument("user", metavar="USER")
    link = actions.add_parser(
        "link", parents=common, help="create a join link for ROOM; prints its token (owner only)"
    )
    link.add_argument("room", metavar="ROOM")
    revoke = actions.add_parser("revoke", parents=common, help="revoke a join link (owner only)")
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

    join = sub.add_parser("join", parents=parents, help="ask to join a room through its link")
    join.add_argument("token", metavar="TOKEN", help="the token, /join/TOKEN, or the link URL")
    requests = sub.add_parser(
        "requests", parents=parents, help="pending requests to join ROOM (owner only)"
    )
    requests.add_argument("room", metavar="ROOM")
    for name, verb in (("approve", "approve"), ("reject", "reject")):
        decide = sub.add_parser(
            name, parents=parents, help=f"{verb} USER's request to join ROOM (owner only)"
        )
        decide.add_argument("room", metavar="ROOM")
        decide.add_argument("user", metavar="USER")
    leave = sub.add_parser("leave", parents=parents, help="leave a room")
    leave.add_argument("room", metavar="ROOM")

    comment = sub.add_parser("comment", parents=parents, help="comment on a message")
    comment.add_argument("message", type=_message_id, metavar="MESSAGE_ID")
    comment.add_argument("text", nargs="+", metavar="TEXT", help="the comment ('-': read stdin)")
    comments = sub.add_parser("comments", parents=parents, help="the comments on a message")
    comments.add_argument("message", type=_message_id, metavar="MESSAGE_ID")

    report = sub.add_parser(
        "report", parents=parents, help="report a user (enough reports ban them from sending)"
    )
    report.add_argument("user", metavar="USER")
    report.add_argument("--reason", metavar="R", help="why (at most 500 characters)")

    sched = sub.add_parser(
        "schedule",
        parents=parents,
        help="send a message later",
        description=schedule.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    when = sched.add_mutually_exclusive_group(required=True)
    when.add_argument("--at", metavar="TIME", help="ISO 8601 time (local without offset) or HH:MM")
    when.add_argument(
        "--in", dest="after", metavar="DURATION", help="from now: 90s, 15m, 2h, 1d, 1h30m"
    )
    _target(sched, "send")
    sched.add_argument("text", nargs="+", metavar="TEXT", help="the message ('-': read stdin)")
    sub.add_parser("scheduled", parents=parents, help="your pending scheduled messages")
    cancel = sub.add_parser("cancel", parents=parents, help="cancel a scheduled message")
    cancel.add_argument("id", type=_message_id, metavar="ID", help="as `chat scheduled` shows")

    upload = sub.add_parser("upload", parents=parents, help="send a file (streamed from disk)")
    upload.add_argument("path", type=Path, metavar="PATH")
    _target(upload, "send it")
    upload.add_argument("--text", help="a caption sent with the file")
    upload.add_argument(
        "--type", dest="content_type", metavar="MIME", help="content type (default: from the name)"
    )
    download = sub.add_parser(
        "download",
        parents=parents,
        help="save the file of a message (streamed to disk, checked against its SHA-256)",
        epilog="exit status 1 also when the file exists (without --force) or cannot be written",
    )
    download.add_argument("message", type=_message_id, metavar="MESSAGE_ID")
    download.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        help="file or directory to save to (default: the file's own name, made safe, here)",
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
