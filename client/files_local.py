"""Files, continued: the local side of a transfer.

How this works: an upload reads the file as it was when the upload started
(`open_for_upload`, `file_chunks`). A download is written to a hidden
`.part` file beside its destination, its size and SHA-256 checked against
`Content-Length` and the `ETag` (the server's ETag is the file's SHA-256),
and only then moved into place (`save`); an existing file is replaced only
with `force`, and a failed download leaves nothing behind. The name to save
under defaults to the one the uploader gave (from `Content-Disposition`),
cut down to a plain file name (`safe_file_name`): a name chosen by someone
else must not pick the directory, hide the file, or carry control
characters. `Progress` draws the progress line of either.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
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

from client.http import BadResponseError
from client.streaming import StreamedResponse
from client.terminal import size_text

__all__ = [
    "FILE_CHUNK_BYTES",
    "MAX_NAME_BYTES",
    "Progress",
    "RefusedError",
    "announced_size",
    "copy",
    "destination",
    "disposition_name",
    "expected_sha256",
    "file_chunks",
    "in_the_way",
    "move_into_place",
    "open_for_upload",
    "safe_file_name",
    "save",
    "size_text",
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
            line = f"{self.label}: {size_text(self.done)} of {size_text(self.total)}"
            line += f" ({100 * self.done // self.total}%)"
        else:
            line = f"{self.label}: {size_text(self.done)}"
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


async def file_chunks(file: IO[bytes], size: int, progress: Progress) -> AsyncIterator[bytes]:
    """The first `size` bytes of `file` (what it held when the upload started)."""
    left = size
    while left > 0:
        chunk = await asyncio.to_thread(file.read, min(FILE_CHUNK_BYTES, left))
        if not chunk:
            return  # it shrank: the declared length is not met and the upload fails
        left -= len(chunk)
        progress.add(len(chunk))
        yield chunk


def open_for_upload(path: Path) -> tuple[IO[bytes], int]:
    """The file at `path`, open for reading, and its size.

    Raises OSError when it cannot be opened or is not a regular file,
    ValueError for a NUL in the path.
    """
    file = path.open("rb")
    info = os.fstat(file.fileno())
    if stat.S_ISREG(info.st_mode):
        return file, info.st_size
    file.close()  # a FIFO or device: no size to declare, maybe no end
    raise OSError(errno.EINVAL, "not a regular file")


def in_the_way(output: str | None, *, force: bool) -> bool:
    """Whether `output` is an existing file (not a directory) and `force` is not given."""
    if output is None or force:
        return False
    path = Path(output)
    return path.exists() and not path.is_dir()


def _exists(path: Path) -> bool:
    return path.exists()


def destination(output: str | None, name: str) -> Path:
    """Where a download goes: `output` (or `name` in it, a directory), else `name` here."""
    if output is None:
        return Path(name)
    target = Path(output)
    return target / name if target.is_dir() else target


def announced_size(response: StreamedResponse) -> int | None:
    """The size of the body as its `Content-Length` announces it, if it does."""
    length = response.headers.get("content-length")
    return int(length) if length is not None and length.isdecimal() else None


def expected_sha256(response: StreamedResponse) -> str | None:
    """The SHA-256 of the body as its `ETag` announces it, if it does."""
    etag = _ETAG.fullmatch(response.headers.get("etag") or "")
    return etag[1] if etag is not None else None


async def copy(response: StreamedResponse, sink: IO[bytes], progress: Progress) -> tuple[int, str]:
    """Write the body to `sink` as it arrives; (its size, its SHA-256)."""
    digest = hashlib.sha256()
    size = 0
    async for chunk in response.chunks():
        await asyncio.to_thread(sink.write, chunk)
        digest.update(chunk)
        size += len(chunk)
        progress.add(len(chunk))
    await asyncio.to_thread(sink.flush)
    return size, digest.hexdigest()


class RefusedError(Exception):
    """A local reason not to write the download (exists, cannot write)."""


async def save(
    response: StreamedResponse, dest: Path, *, force: bool, progress: Progress, message: int
) -> tuple[int, str]:
    """Stream the body into `dest` through a `.part` file; (size, sha256).

    Raises RefusedError (`dest` exists without `force`, cannot be written),
    BadResponseError (the body is not the size or SHA-256 announced) and the
    errors of `StreamedResponse.chunks`.
    """
    if not force and _exists(dest):
        raise RefusedError(f"{dest} exists; add --force to replace it")
    expected_size = response.headers.get("content-length")
    sha256_expected = expected_sha256(response)
    part = dest.with_name(f".chat-download-{secrets.token_hex(8)}.part")
    try:
        try:
            file = await asyncio.to_thread(part.open, "xb")
        except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
            detail = getattr(exc, "strerror", None) or exc
            raise RefusedError(f"cannot write {dest}: {detail}") from exc
        with file:
            size, sha256 = await copy(response, file, progress)
            await asyncio.to_thread(os.fsync, file.fileno())
        if expected_size is not None and str(size) != expected_size:
            raise BadResponseError(f"file #{message} ended at {size} of {expected_size} bytes")
        if sha256_expected is not None and sha256_expected != sha256:
            raise BadResponseError(f"file #{message} does not match its SHA-256")
        move_into_place(part, dest, force=force)
    finally:
        with contextlib.suppress(FileNotFoundError):
            part.unlink()
    return size, sha256


def move_into_place(part: Path, dest: Path, *, force: bool) -> None:
    """Move the finished `part` to `dest`; without `force`, never over an existing file.

    Raises RefusedError when `dest` exists (without `force`) or cannot be written.
    """
    if force:
        try:
            part.replace(dest)
        except OSError as exc:  # e.g. dest is a directory
            raise RefusedError(f"cannot write {dest}: {exc.strerror or exc}") from exc
        return
    try:
        os.link(part, dest)  # fails when dest exists: nothing is ever overwritten
    except FileExistsError as exc:
        raise RefusedError(f"{dest} exists; add --force to replace it") from exc
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise RefusedError(f"cannot write {dest}: {exc.strerror or exc}") from exc
        # A file system without hard links: check, then rename (a small race).
        if dest.exists():
            raise RefusedError(f"{dest} exists; add --force to replace it") from exc
        part.replace(dest)
