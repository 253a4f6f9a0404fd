"""A content-addressed store for the bytes of uploaded files.

How this works: an upload streams into `<root>/tmp/<random>.part` while its
SHA-256 and size are computed; more than `max_bytes` stops it at once. At the
end the file is fsynced, renamed to `<root>/<sha256>` and the directory is
fsynced, so the blob is durable *before* the caller appends the event that
refers to it: after a crash an event never points at missing bytes. The
opposite can happen (bytes stored, then a crash before the event), which is
why `remove_orphans` runs at start with the set of hashes the log refers to.
Identical content maps to the same name, so it is stored once.

Memory per transfer is bounded by `WRITE_BUFFER_BYTES` plus one incoming
chunk (upload) or `chunk_bytes` (download). All file work (open, write,
fsync, rename, read) runs in worker threads so that the event loop never
waits for the disk. If the caller is cancelled while a worker holds the
file, the store waits for that worker before it closes and deletes the
file, so two threads never use one file at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import re
import secrets
import time
from collections.abc import AsyncGenerator, AsyncIterable, Callable, Collection
from pathlib import Path
from typing import BinaryIO, TypeVar

from attrs import frozen

logger = logging.getLogger(__name__)

WRITE_BUFFER_BYTES = 256 * 1024  # bytes gathered before one write in a worker thread
READ_CHUNK_BYTES = 64 * 1024  # default size of the chunks a download yields
TMP_DIR_NAME = "tmp"
_TMP_SUFFIX = ".part"
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")

_T = TypeVar("_T")


@frozen(kw_only=True)
class StoredBlob:
    """A blob that is durable in the store: its SHA-256 (lowercase hex) and size."""

    sha256: str
    size: int


class BlobNoSpaceError(Exception):
    """The disk fell below the free-space floor while an upload came in; nothing is kept."""


class BlobTooLargeError(Exception):
    """An upload passed the store's `max_bytes`; nothing of it is left on disk."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"a file has at most {max_bytes} bytes")
        self.max_bytes = max_bytes


async def _off_loop(
    function: Callable[..., _T], /, *args: object, release: Callable[[_T], object] | None = None
) -> _T:
    """Run `function(*args)` in a worker thread and return its result.

    When the caller is cancelled meanwhile, wait for the worker to finish
    before raising CancelledError, since the caller's cleanup may close the
    file the worker is using; a result that arrives too late is handed to
    `release` (to close a file that was just opened).
    """
    worker = asyncio.ensure_future(asyncio.to_thread(function, *args))
    try:
        return await asyncio.shield(worker)
    except asyncio.CancelledError:
        while not worker.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait([worker])
        if release is not None and not worker.cancelled() and worker.exception() is None:
            release(worker.result())
        raise


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _create(path: Path) -> BinaryIO:
    # Owner-only, and never through a link someone planted in the directory.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    return open(fd, "wb")


def _open(path: Path) -> BinaryIO:
    return open(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), "rb")


def _close(file: BinaryIO) -> None:
    file.close()


def _write(file: BinaryIO, hasher: hashlib._Hash, data: bytearray) -> None:
    hasher.update(data)
    file.write(data)


def _finish(file: BinaryIO) -> None:
    file.flush()
    os.fsync(file.fileno())
    file.close()


def _discard(file: BinaryIO, path: Path) -> None:
    try:
        file.close()
    finally:
        path.unlink(missing_ok=True)


class BlobStore:
    """Files by SHA-256 under `root`, written durably before they are referred to."""

    def __init__(
        self, root: Path, *, max_bytes: int, room_left: Callable[[], int] | None = None
    ) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must not be negative, not {max_bytes}")
        self._root = root
        self._tmp = root / TMP_DIR_NAME
        self._max_bytes = max_bytes
        self._room_left = room_left
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._tmp.mkdir(mode=0o700, exist_ok=True)

    @property
    def root(self) -> Path:
        return self._root

    @property
    def max_bytes(self) -> int:
        return self._max_bytes

    def path(self, sha256: str) -> Path:
        """Where the blob with this SHA-256 lives. Raises ValueError unless 64 lowercase hex."""
        if _SHA256_HEX.fullmatch(sha256) is None:
            raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
        return self._root / sha256

    def has(self, sha256: str) -> bool:
        """Whether the blob is stored. Raises ValueError for a malformed SHA-256."""
        return self.path(sha256).is_file()

    async def store(self, chunks: AsyncIterable[bytes]) -> StoredBlob:
        """Stream `chunks` into the store; return the blob once it is durable.

        Raises BlobTooLargeError as soon as more than `max_bytes` arrive,
        BlobNoSpaceError when the disk has no room left for the next buffer.
        Whatever `chunks` raises (a client that went away) propagates. In
        every failure the temporary file is gone when this returns.
        """
        tmp_path = self._tmp / f"{secrets.token_hex(16)}{_TMP_SUFFIX}"
        try:
            file = await _off_loop(_create, tmp_path, release=_close)
        except asyncio.CancelledError:
            await _off_loop(tmp_path.unlink, True)
            raise
        hasher = hashlib.sha256()
        try:
            size = await self._write_all(chunks, file, hasher)
            await _off_loop(_finish, file)
        except BaseException:
            await _off_loop(_discard, file, tmp_path)
            raise
        blob = StoredBlob(sha256=hasher.hexdigest(), size=size)
        try:
            await _off_loop(self._commit, tmp_path, blob)
        except BaseException:
            await _off_loop(tmp_path.unlink, True)
            raise
        return blob

    async def _write_all(
        self, chunks: AsyncIterable[bytes], file: BinaryIO, hasher: hashlib._Hash
    ) -> int:
        """Write and hash `chunks` in buffers of WRITE_BUFFER_BYTES; return their size."""
        size = 0
        buffer = bytearray()
        async for chunk in chunks:
            size += len(chunk)
            if size > self._max_bytes:
                raise BlobTooLargeError(self._max_bytes)
            buffer += chunk
            if len(buffer) >= WRITE_BUFFER_BYTES:
                full, buffer = buffer, bytearray()
                self._check_room(len(full))
                await _off_loop(_write, file, hasher, full)
        self._check_room(len(buffer))
        await _off_loop(_write, file, hasher, buffer)
        return size

    def _check_room(self, size: int) -> None:
        if self._room_left is not None and self._room_left() < size:
            raise BlobNoSpaceError(f"no room for {size} more bytes above the free-space floor")

    def _commit(self, tmp_path: Path, blob: StoredBlob) -> None:
        final = self.path(blob.sha256)
        try:
            existing_size = final.stat().st_size
        except FileNotFoundError:
            existing_size = None
        if existing_size == blob.size:
            tmp_path.unlink()  # the same content is stored already
            os.utime(final)  # young again: a sweep must not take it from the new message
        else:
            if existing_size is not None:
                logger.warning(
                    "blob %s had %d bytes instead of %d; replaced by a new upload",
                    blob.sha256,
                    existing_size,
                    blob.size,
                )
            tmp_path.replace(final)
        # Also after a dedup: the earlier rename may not be durable yet.
        _fsync_directory(self._root)

    async def read(
        self, sha256: str, *, chunk_bytes: int = READ_CHUNK_BYTES
    ) -> AsyncGenerator[bytes, None]:
        """Yield the blob's bytes, `chunk_bytes` at a time, each read in a worker thread.

        The file is opened at the first step, so FileNotFoundError (blob
        missing) and ValueError (malformed SHA-256) come before any bytes.
        Stopping early, close it (`aclose`, or `contextlib.aclosing` around
        the loop) so that the file is closed at once, not when collected.
        """
        if chunk_bytes <= 0:
            raise ValueError(f"chunk_bytes must be positive, not {chunk_bytes}")
        file = await _off_loop(_open, self.path(sha256), release=_close)
        try:
            while chunk := await _off_loop(file.read, chunk_bytes):
                yield chunk
        finally:
            file.close()

    def remove_orphans(self, referenced: Collection[str]) -> int:
        """Delete every blob not in `referenced` and every temporary file; return how many.

        Call at start, before any upload: an upload in flight would lose its
        temporary file. Files in the root that are not blobs are left alone.
        """
        removed = 0
        for path in self._tmp.iterdir():
            if path.is_file():
                path.unlink()
                removed += 1
        if removed:
            _fsync_directory(self._tmp)
        removed += self.sweep(referenced, older_than_s=0.0)
        logger.info(
            "blob store %s: removed %d unreferenced or unfinished files", self._root, removed
        )
        return removed

    def sweep(self, referenced: Collection[str], *, older_than_s: float) -> int:
        """Delete the blobs not in `referenced` last written more than `older_than_s` ago.

        Safe while uploads run: temporary files are left alone, and a blob
        just stored (or just matched by a new upload of the same bytes, see
        `_commit`) is young. Returns how many were deleted.
        """
        keep = frozenset(referenced)
        cutoff = time.time() - older_than_s
        removed = 0
        for path in self._root.iterdir():
            if path.name == TMP_DIR_NAME:
                continue
            if _SHA256_HEX.fullmatch(path.name) is None or not path.is_file():
                logger.warning("%s is not a blob; left in place", path)
                continue
            if path.name in keep:
                continue
            try:
                if path.stat().st_mtime > cutoff:
                    continue
                path.unlink()
            except FileNotFoundError:
                continue
            removed += 1
        if removed:
            _fsync_directory(self._root)
        return removed
