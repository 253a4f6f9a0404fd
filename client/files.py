"""Files: uploading one as a message, downloading the file of a message.

Both stream, so that a file never sits whole in memory: an upload reads
the file as it goes, on a connection of its own so that it never holds up
a message; a download writes to disk as it arrives and is checked against
the size and SHA-256 the server announced. What happens on the local disk
(names, the `.part` file, the progress line) is in `client.files_local`.
"""

from __future__ import annotations

import argparse
import mimetypes
from collections.abc import AsyncIterable, AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO, Any, Final

from client import files_local
from client.api import MAX_JSON_ANSWER_BYTES, Api, ApiError, ApiErrorBody
from client.context import (
    EXIT_OK,
    EXIT_REFUSED,
    Context,
    UsageError,
    new_idempotency_key,
    session_api,
)
from client.files_local import Progress, announced_size, expected_sha256
from client.http import BadResponseError, HttpClientError, decode_json, encode_query
from client.jsonread import member
from client.messages import Message, message_line
from client.room_book import resolve_room, room_book
from client.slash import Shell, Start, Words, message_ref
from client.streaming import BodyLengthError, StreamedResponse
from client.subcommand import Subcommand, message_id, target_options
from client.terminal import json_line, size_text

__all__ = [
    "DOWNLOAD",
    "SLASH_HELP",
    "UPLOAD",
    "FilesApi",
    "download",
    "slash_commands",
    "upload",
]

SLASH_HELP: Final = """\
Files:
  /upload <path>                   send a file to the current room
  /download <id> [path] [--force]  save a message's file"""
_DEFAULT_TYPE: Final = "application/octet-stream"


class FilesApi(Api):
    """The endpoints of files: each streams on a connection of its own."""

    async def upload(
        self,
        body: AsyncIterable[bytes],
        *,
        name: str,
        size: int | None,
        content_type: str = _DEFAULT_TYPE,
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
        headers = [("Content-Type", content_type), ("Idempotency-Key", idempotency_key)]
        async with self.stream(
            "POST", f"/files{query}", headers=headers, body=body, content_length=size
        ) as response:
            answer = await response.read(MAX_JSON_ANSWER_BYTES)
        decoded = decode_json(answer, response.status)
        return Message.from_json(member(decoded, "message", "answer"))

    @asynccontextmanager
    async def download(self, message: int) -> AsyncIterator[StreamedResponse]:
        """The file of message `message`: a 200 response whose body is read as it streams.

        Raises ApiError (not_member, not_found), NetworkError, BadResponseError.
        """
        async with self.stream("GET", f"/messages/{message}/file") as response:
            if response.status != 200:
                raise BadResponseError(f"a download answered {response.status}")
            yield response


async def _check_size(ctx: Context, api: Api, path: Path, size: int) -> None:
    """Refuse a file over the server's limit before sending a byte of it.

    Raises ApiError (too_large, as the server would); a server that does
    not say its limit (or cannot be asked) decides when the file arrives.
    """
    try:
        answer = (await ctx.retry(lambda: api.call("GET", "/status"))).json()
        limits = answer.get("limits") if isinstance(answer, dict) else None
        most = limits.get("max_file_bytes") if isinstance(limits, dict) else None
    except (HttpClientError, ApiError):
        return
    if isinstance(most, int) and not isinstance(most, bool) and size > most:
        message = (
            f"{path.name} has {size} bytes ({size_text(size)}); this server takes files of "
            f"at most {most} bytes ({size_text(most)}): nothing was sent"
        )
        raise ApiError(413, ApiErrorBody(code="too_large", message=message))


async def upload(
    ctx: Context,
    *,
    path: Path,
    room: str | None,
    to: str | None,
    text: str | None = None,
    content_type: str | None = None,
    name: str | None = None,
) -> int:
    """Upload the file at `path` as a message to `room` (default general) or to user `to`.

    `name` is the name others see (default: the file's own).
    """
    session = ctx.load()
    name = name or path.name
    kind = content_type or mimetypes.guess_type(name)[0] or _DEFAULT_TYPE
    room = await resolve_room(ctx, session, room) if room is not None else None
    key = new_idempotency_key()
    try:
        file, size = files_local.open_for_upload(path)
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        raise UsageError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from exc
    progress = Progress(ctx.err, f"uploading {name}", size)
    try:
        async with session_api(ctx, session, FilesApi) as api:
            await _check_size(ctx, api, path, size)
    except BaseException:
        file.close()
        raise

    async def attempt() -> Message:
        file.seek(0)
        progress.done = 0
        return await api.upload(
            files_local.file_chunks(file, size, progress),
            name=name,
            size=size,
            content_type=kind,
            room=room,
            to=to,
            text=text,
            idempotency_key=key,
        )

    with file:
        async with session_api(ctx, session, FilesApi) as api:
            try:
                message = await ctx.retry(attempt)
            except BodyLengthError as exc:
                ctx.notice(f"{path} changed while it was sent ({exc}); nothing was stored")
                return EXIT_REFUSED
            finally:
                progress.finish()
            book = await room_book(ctx, api, session.user, load=not ctx.slash)
    if ctx.json:
        ctx.say(json_line(dict(message.raw)))
    elif not ctx.slash:  # interactive mode shows it when it comes back as an event
        ctx.say(message_line(message, book.display))
    return EXIT_OK


async def _to_stdout(ctx: Context, message: int) -> int:
    """Stream the file to standard output (no retry: what was written cannot be taken back).

    Raises BadResponseError when what arrived does not match the size or SHA-256.
    """
    session = ctx.load()
    sink: IO[bytes] | None = getattr(ctx.out, "buffer", None)
    if sink is None or ctx.json:
        raise UsageError("-o - writes the file itself to standard output (and not with --json)")
    async with session_api(ctx, session, FilesApi) as api, api.download(message) as response:
        total = announced_size(response)
        progress = Progress(ctx.err, f"downloading #{message}", total)
        try:
            size, sha256 = await files_local.copy(response, sink, progress)
        finally:
            progress.finish()
        expected = expected_sha256(response)
    if (total is not None and size != total) or (expected is not None and expected != sha256):
        raise BadResponseError(f"file #{message} as written does not match its size or SHA-256")
    return EXIT_OK


async def download(ctx: Context, *, message: int, output: str | None, force: bool) -> int:
    """Save the file of message `message` (to `output`, a file or directory; `-`: stdout)."""
    if output == "-":
        return await _to_stdout(ctx, message)
    session = ctx.load()
    if files_local.in_the_way(output, force=force):
        ctx.notice(f"{output} exists; add --force to replace it")
        return EXIT_REFUSED

    async def attempt() -> tuple[Path, int, str, str]:
        async with api.download(message) as response:
            offered = files_local.disposition_name(response.headers.get("content-disposition"))
            name = files_local.safe_file_name(offered or "", f"file-{message}")
            dest = files_local.destination(output, name)
            progress = Progress(ctx.err, f"downloading {dest.name}", announced_size(response))
            try:
                size, sha256 = await files_local.save(
                    response, dest, force=force, progress=progress, message=message
                )
            finally:
                progress.finish()
            kind = response.headers.get("content-type") or _DEFAULT_TYPE
        return dest, size, sha256, kind

    async with session_api(ctx, session, FilesApi) as api:
        try:
            dest, size, sha256, kind = await ctx.retry(attempt)
        except files_local.RefusedError as exc:
            ctx.notice(str(exc))
            return EXIT_REFUSED
    if ctx.json:
        ctx.say(
            json_line(
                {
                    "message": message,
                    "path": str(dest),
                    "size": size,
                    "sha256": sha256,
                    "content_type": kind,
                }
            )
        )
    else:
        ctx.say(f"saved {dest} ({files_local.size_text(size)})")
    return EXIT_OK


def _upload_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", type=Path, metavar="PATH")
    target_options(parser, "send it")
    parser.add_argument("--text", help="a caption sent with the file")
    parser.add_argument("--name", help="the file name others see (default: the file's own)")
    parser.add_argument(
        "--type", dest="content_type", metavar="MIME", help="content type (default: from the name)"
    )


def _download_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("message", type=message_id, metavar="MESSAGE_ID")
    parser.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        help="file or directory to save to, - for standard output (default: its own name, here)",
    )
    parser.add_argument("--force", action="store_true", help="replace an existing file")


UPLOAD: Final = Subcommand(
    name="upload",
    summary="send a file as a message",
    details="Streamed from disk (never whole in\nmemory), with a progress line on stderr for large "
    "files on a terminal. The\nserver's size limit applies (5 MiB unless configured).",
    arguments=_upload_arguments,
    run=lambda args, ctx, stdin: upload(
        ctx,
        path=args.path,
        room=args.room,
        to=args.to,
        text=args.text,
        content_type=args.content_type,
        name=args.name,
    ),
)
DOWNLOAD: Final = Subcommand(
    name="download",
    summary="save the file of a message",
    details="Streamed to disk and checked against\nthe size and SHA-256 the server sends; "
    "nothing is left behind when it fails.\nWithout -o, saved here under the uploader's "
    "file name, made safe. Exit\nstatus 1 also when the file exists (without --force) "
    "or cannot be written.",
    arguments=_download_arguments,
    run=lambda args, ctx, stdin: download(
        ctx, message=args.message, output=args.output, force=args.force
    ),
)


def _path(text: str) -> Path:
    try:
        return Path(text.strip()).expanduser()
    except RuntimeError as exc:  # ~user for a user without a home
        raise UsageError(f"cannot expand {text.strip()!r}: {exc}") from exc


def slash_commands(ctx: Context, shell: Shell) -> dict[str, Start]:
    """`/upload <path>` to the current room, `/download <id> [path] [--force]`."""

    def upload_(words: str) -> Coroutine[Any, Any, int]:
        if not words.strip():
            raise UsageError("usage: /upload <path>")
        return upload(ctx, path=_path(words), room=shell.room, to=None)

    def download_(words: str) -> Coroutine[Any, Any, int]:
        parts = words.split()
        force = "--force" in parts
        rest = Words(" ".join(p for p in parts if p != "--force"))
        message = message_ref(shell, rest.take(), "/download <id|last|^> [path] [--force]")
        output = str(_path(rest.rest)) if rest.rest else None
        return download(ctx, message=message, output=output, force=force)

    return {"/upload": upload_, "/download": download_}
