"""`upload` and `download`: files stream between disk and server, never whole in memory.

A download is written to a hidden `.part` file beside its destination, its
size and SHA-256 checked against `Content-Length` and the `ETag` (the
server's ETag is the file's SHA-256), and only then moved into place; an
existing file is replaced only with `--force`. A failed download leaves
nothing behind. The name to save under defaults to the one the uploader gave
(from `Content-Disposition`), cut down to a plain file name
(`safe_file_name`): a name chosen by someone else must not pick the
directory, hide the file, or carry control characters.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import mimetypes
import os
import re
import secrets
import stat
import time
import unicodedata
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Final, TextIO
from urllib.parse import unquote

from client.commands import EXIT_OK, EXIT_REFUSED, Context, UsageError, new_idempotency_key
from client.http import BadResponseError
from client.models import Message
from client.render import json_line, message_line
from client.social import room_id, social_api
from client.streaming import BodyLengthError, StreamedResponse

__all__ = [
    "FILE_CHUNK_BYTES",
    "Progress",
    "disposition_name",
    "download",
    "safe_file_name",
    "upload",
]

FILE_CHUNK_BYTES: Final = 64 * 1024
# Smaller transfers finish before a progress line would be worth reading.
PROGRESS_MIN_BYTES: Final = 1024 * 1024
PROGRESS_INTERVAL_S: Final = 0.1
# Most file systems allow 255 bytes in one name.
MAX_NAME_BYTES: Final = 255
_PARAM_NAME: Final = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_PARAM: Final = re.compile(rf';\s*({_PARAM_NAME})\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]*)\s*')
_QUOTED_PAIR: Final = re.compile(r"\\(.)")
_ETAG: Final = re.compile(r'"([0-9a-f]{64})"')
_DEFAULT_TYPE: Final = "application/octet-stream"
_NO_HARD_LINKS: Final = frozenset({errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK})


def disposition_name(value: str | None) -> str | None:
    """The file name a `Content-Disposition` value offers (`filename*` preferred).

    None when there is none; never raises.
    """
    if not value:
        return None
    params: dict[str, str] = {}
    _, _, rest = value.partition(";")
    for match in _PARAM.finditer(";" + rest):
        raw = match[2]
        if raw.startswith('"'):
            raw = _QUOTED_PAIR.sub(r"\1", raw[1:-1])
        params.setdefault(match[1].lower(), raw)
    extended = params.get("filename*")
    if extended is not None:
        charset, _, encoded = extended.partition("'")
        _, _, encoded = encoded.partition("'")
        if charset.lower() == "utf-8":
            name = unquote(encoded, encoding="utf-8", errors="replace")
            if name:
                return name
    return params.get("filename") or None


def safe_file_name(name: str, fallback: str) -> str:
    """`name` as a plain file name: no directories, no control or format characters,
    no leading dots, at most 255 bytes; `fallback` when nothing is left."""
    base = re.split(r"[/\\]", name)[-1]
    cleaned = "".join(
        "_" if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp") else c for c in base
    )
    cleaned = cleaned.strip().lstrip(".").rstrip(". ")
    if not cleaned:
        return fallback
    stem, dot, suffix = cleaned.rpartition(".")
    if not stem or len(suffix.encode()) > MAX_NAME_BYTES // 4:
        stem, dot, suffix = cleaned, "", ""
    while len(f"{stem}{dot}{suffix}".encode()) > MAX_NAME_BYTES:
        stem = stem[:-1]
    return f"{stem.rstrip('. ')}{dot}{suffix}" if stem.rstrip(". ") else fallback


def _size(count: float) -> str:
    for unit in ("B", "KiB", "MiB"):
        if count < 1024 or unit == "MiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


class Progress:
    """A progress line on a terminal, redrawn at most every 0.1 s; silent elsewhere."""

    def __init__(self, err: TextIO, label: str, total: int | None) -> None:
        self.err = err
        self.label = label
        self.total = total
        self.done = 0
        self.shown = False
        self._last = 0.0
        self.enabled = _isatty(err) and (total is None or total >= PROGRESS_MIN_BYTES)

    def add(self, count: int) -> None:
        """`count` more bytes went through."""
        self.done += count
        now = time.monotonic()
        if self.enabled and now - self._last >= PROGRESS_INTERVAL_S:
            self._last = now
            self._draw()

    def _draw(self) -> None:
        if self.total:
            line = f"{self.label}: {_size(self.done)} of {_size(self.total)}"
            line += f" ({100 * self.done // self.total}%)"
        else:
            line = f"{self.label}: {_size(self.done)}"
        self.err.write(f"\r\x1b[K{line}")
        self.err.flush()
        self.shown = True

    def finish(self) -> None:
        """Draw the final state and end the line (when anything was drawn)."""
        if self.enabled:
            self._draw()
        if self.shown:
            self.err.write("\n")
            self.err.flush()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except ValueError:  # closed
        return False


async def _file_chunks(file: IO[bytes], size: int, progress: Progress) -> AsyncIterator[bytes]:
    """The first `size` bytes of `file` (what it held when the upload started)."""
    left = size
    while left > 0:
        chunk = await asyncio.to_thread(file.read, min(FILE_CHUNK_BYTES, left))
        if not chunk:
            return  # it shrank: the declared length is not met and the upload fails
        left -= len(chunk)
        progress.add(len(chunk))
        yield chunk


def _open_for_upload(path: Path) -> tuple[IO[bytes], int]:
    file = path.open("rb")
    info = os.fstat(file.fileno())
    if stat.S_ISREG(info.st_mode):
        return file, info.st_size
    file.close()  # a FIFO or device: no size to declare, maybe no end
    raise OSError(errno.EINVAL, "not a regular file")


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
    room = room_id(room, session.user) if room is not None else None
    key = new_idempotency_key()
    try:
        file, size = _open_for_upload(path)
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        raise UsageError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from exc
    progress = Progress(ctx.err, f"uploading {name}", size)

    async def attempt() -> Message:
        file.seek(0)
        progress.done = 0
        return await api.upload(
            _file_chunks(file, size, progress),
            name=name,
            size=size,
            content_type=kind,
            room=room,
            to=to,
            text=text,
            idempotency_key=key,
        )

    with file:
        async with social_api(ctx, session) as api:
            try:
                message = await ctx.retry(attempt)
            except BodyLengthError as exc:
                ctx.notice(f"{path} changed while it was sent ({exc}); nothing was stored")
                return EXIT_REFUSED
            finally:
                progress.finish()
    ctx.say(json_line(dict(message.raw)) if ctx.json else message_line(message, session.user))
    return EXIT_OK


def _exists(path: Path) -> bool:
    return path.exists()


def _is_dir(path: Path) -> bool:
    return path.is_dir()


def _destination(output: str | None, name: str) -> Path:
    if output is None:
        return Path(name)
    target = Path(output)
    return target / name if target.is_dir() else target


class _RefusedError(Exception):
    """A local reason not to write the download (exists, cannot write)."""


async def _save(
    response: StreamedResponse, dest: Path, *, force: bool, progress: Progress, message: int
) -> tuple[int, str]:
    """Stream the body into `dest` through a `.part` file; (size, sha256)."""
    if not force and _exists(dest):
        raise _RefusedError(f"{dest} exists; add --force to replace it")
    expected_size = response.headers.get("content-length")
    etag = _ETAG.fullmatch(response.headers.get("etag") or "")
    part = dest.with_name(f".chat-download-{secrets.token_hex(8)}.part")
    digest = hashlib.sha256()
    size = 0
    try:
        try:
            file = await asyncio.to_thread(part.open, "xb")
        except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
            detail = getattr(exc, "strerror", None) or exc
            raise _RefusedError(f"cannot write {dest}: {detail}") from exc
        with file:
            async for chunk in response.chunks():
                await asyncio.to_thread(file.write, chunk)
                digest.update(chunk)
                size += len(chunk)
                progress.add(len(chunk))
            await asyncio.to_thread(file.flush)
            await asyncio.to_thread(os.fsync, file.fileno())
        sha256 = digest.hexdigest()
        if expected_size is not None and str(size) != expected_size:
            raise BadResponseError(f"file #{message} ended at {size} of {expected_size} bytes")
        if etag is not None and etag[1] != sha256:
            raise BadResponseError(f"file #{message} does not match its SHA-256")
        _move_into_place(part, dest, force=force)
    finally:
        with contextlib.suppress(FileNotFoundError):
            part.unlink()
    return size, sha256


def _move_into_place(part: Path, dest: Path, *, force: bool) -> None:
    if force:
        try:
            part.replace(dest)
        except OSError as exc:  # e.g. dest is a directory
            raise _RefusedError(f"cannot write {dest}: {exc.strerror or exc}") from exc
        return
    try:
        os.link(part, dest)  # fails when dest exists: nothing is ever overwritten
    except FileExistsError as exc:
        raise _RefusedError(f"{dest} exists; add --force to replace it") from exc
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise _RefusedError(f"cannot write {dest}: {exc.strerror or exc}") from exc
        # A file system without hard links: check, then rename (a small race).
        if dest.exists():
            raise _RefusedError(f"{dest} exists; add --force to replace it") from exc
        part.replace(dest)


async def _to_stdout(ctx: Context, message: int) -> int:
    """Stream the file to standard output (no retry: what was written cannot be taken back).

    Raises BadResponseError when what arrived does not match the size or SHA-256.
    """
    session = ctx.load()
    sink: IO[bytes] | None = getattr(ctx.out, "buffer", None)
    if sink is None or ctx.json:
        raise UsageError("-o - writes the file itself to standard output (and not with --json)")
    digest = hashlib.sha256()
    size = 0
    async with social_api(ctx, session) as api, api.download(message) as response:
        length = response.headers.get("content-length")
        total = int(length) if length is not None and length.isdecimal() else None
        progress = Progress(ctx.err, f"downloading #{message}", total)
        try:
            async for chunk in response.chunks():
                await asyncio.to_thread(sink.write, chunk)
                digest.update(chunk)
                size += len(chunk)
                progress.add(len(chunk))
            await asyncio.to_thread(sink.flush)
        finally:
            progress.finish()
        etag = _ETAG.fullmatch(response.headers.get("etag") or "")
    if (total is not None and size != total) or (etag and etag[1] != digest.hexdigest()):
        raise BadResponseError(f"file #{message} as written does not match its size or SHA-256")
    return EXIT_OK


async def download(ctx: Context, *, message: int, output: str | None, force: bool) -> int:
    """Save the file of message `message` (to `output`, a file or directory; `-`: stdout)."""
    if output == "-":
        return await _to_stdout(ctx, message)
    session = ctx.load()
    if output is not None and not force and _exists(Path(output)) and not _is_dir(Path(output)):
        ctx.notice(f"{output} exists; add --force to replace it")
        return EXIT_REFUSED

    async def attempt() -> tuple[Path, int, str, str]:
        async with api.download(message) as response:
            offered = disposition_name(response.headers.get("content-disposition"))
            name = safe_file_name(offered or "", f"file-{message}")
            dest = _destination(output, name)
            length = response.headers.get("content-length")
            total = int(length) if length is not None and length.isdecimal() else None
            progress = Progress(ctx.err, f"downloading {dest.name}", total)
            try:
                size, sha256 = await _save(
                    response, dest, force=force, progress=progress, message=message
                )
            finally:
                progress.finish()
            kind = response.headers.get("content-type") or _DEFAULT_TYPE
        return dest, size, sha256, kind

    async with social_api(ctx, session) as api:
        try:
            dest, size, sha256, kind = await ctx.retry(attempt)
        except _RefusedError as exc:
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
        ctx.say(f"saved {dest} ({_size(size)})")
    return EXIT_OK
