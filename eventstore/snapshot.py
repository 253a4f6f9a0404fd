"""Snapshots: opaque payloads tied to one offset of one log, verified before use.

How this works
--------------
A snapshot is what a caller folded from the log up to offset N (the app
puts its serialized projections there); the store does not look inside.
Each is one file in ``<log>/snapshots/`` named by N::

    magic b"CHATSNAP" | u16 version (1) | u16 code version bytes | 16-byte log id
    | u64 N | u32 crc32(payload of the record at N) | u32 crc32(payload)
    | u64 payload bytes | the code version (UTF-8) | u32 crc32(all of the above)

then the payload. `write` builds it under a temporary name, fsyncs it,
renames it in and fsyncs the directory, so a crash leaves the old set of
snapshots or the new one, never half a file; it keeps the newest `keep`.
Nothing in it touches the event loop, so a worker thread may call it.

`load_newest` tries the snapshots newest first and returns the first that
holds against the log: the right log id; N not past the durable head; the
log still holding the records after N (retention); the record at N having
the checksum it had when the snapshot was taken (a log that `chat-log
repair` cut back and that then grew again has other records there); the
payload's checksum; and the caller's code version (a newer build folds
differently). Each refused snapshot is logged with its reason.
"""

from __future__ import annotations

import contextlib
import logging
import os
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from typing import Final, Protocol

from attrs import frozen

from eventstore.errors import EventStoreError
from eventstore.fileio import fsync_directory

SNAPSHOT_MAGIC: Final = b"CHATSNAP"
SNAPSHOT_VERSION: Final = 1
_FIXED: Final = struct.Struct(">8sHH16sQIIQ")
_PREFIX: Final = "snapshot-"
_SUFFIX: Final = ".snap"
SNAPSHOT_DIRECTORY: Final = "snapshots"
DEFAULT_KEEP: Final = 2


class SnapshotSource(Protocol):
    """What a snapshot is checked against: the log (a FileEventLog, or a read-only view)."""

    @property
    def log_id(self) -> str: ...

    @property
    def durable_head(self) -> int: ...

    @property
    def first_offset(self) -> int: ...

    def payload_checksum(self, offset: int) -> int | None: ...


@frozen(kw_only=True)
class Snapshot:
    """A snapshot that holds against the log."""

    offset: int
    payload: bytes
    code_version: str
    path: str


@frozen(kw_only=True)
class SnapshotInfo:
    """One snapshot file as listed: what it says, and why it would be refused (None: usable)."""

    path: str
    offset: int | None
    code_version: str | None
    payload_bytes: int | None
    refused: str | None


@frozen(kw_only=True)
class _Header:
    log_id: str
    offset: int
    record_crc: int
    payload_crc: int
    payload_bytes: int
    code_version: str
    size: int


def snapshot_name(offset: int) -> str:
    return f"{_PREFIX}{offset:020d}{_SUFFIX}"


def encode_snapshot_header(
    *, log_id: str, offset: int, record_crc: int, payload: bytes, code_version: str
) -> bytes:
    """The header of a snapshot of `payload` at `offset`."""
    version = code_version.encode("utf-8")
    fixed = _FIXED.pack(
        SNAPSHOT_MAGIC,
        SNAPSHOT_VERSION,
        len(version),
        bytes.fromhex(log_id),
        offset,
        record_crc,
        zlib.crc32(payload),
        len(payload),
    )
    return fixed + version + zlib.crc32(fixed + version).to_bytes(4, "big")


def _decode_header(data: bytes) -> _Header | str:
    if len(data) < _FIXED.size or not data.startswith(SNAPSHOT_MAGIC):
        return "not a snapshot (bad magic or too short)"
    _magic, version, version_bytes, log_id, offset, record_crc, payload_crc, size = (
        _FIXED.unpack_from(data)
    )
    if version != SNAPSHOT_VERSION:
        return f"snapshot format {version}, this program reads {SNAPSHOT_VERSION}"
    end = _FIXED.size + version_bytes
    if len(data) < end + 4 or zlib.crc32(data[:end]) != int.from_bytes(data[end : end + 4], "big"):
        return "corrupt: the header checksum does not match"
    try:
        code_version = data[_FIXED.size : end].decode("utf-8")
    except UnicodeDecodeError:
        return "corrupt: the code version is not UTF-8"
    return _Header(
        log_id=log_id.hex(),
        offset=offset,
        record_crc=record_crc,
        payload_crc=payload_crc,
        payload_bytes=size,
        code_version=code_version,
        size=end + 4,
    )


class SnapshotStore:
    """The snapshots of one log, in ``<log>/snapshots/``.

    `write` and `load_newest` may run in a worker thread (not both at once
    for the same store: writes are serialised by a lock).
    """

    def __init__(
        self,
        log_path: str,
        log: SnapshotSource,
        *,
        keep: int = DEFAULT_KEEP,
        logger: logging.Logger | None = None,
    ) -> None:
        self.directory = os.path.join(log_path, SNAPSHOT_DIRECTORY)
        self._log = log
        self._keep = max(keep, 1)
        self._logger = logger or logging.getLogger("eventstore")
        self._lock = threading.Lock()

    def paths(self) -> list[str]:
        """Every snapshot file, newest (highest offset) first."""
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return []
        found = [n for n in names if n.startswith(_PREFIX) and n.endswith(_SUFFIX)]
        return [os.path.join(self.directory, n) for n in sorted(found, reverse=True)]

    def offsets(self) -> list[int]:
        """The offsets the snapshot files are at, newest first (as named: not verified)."""
        found = []
        for path in self.paths():
            digits = os.path.basename(path).removeprefix(_PREFIX).removesuffix(_SUFFIX)
            if digits.isdigit():
                found.append(int(digits))
        return found

    def write(
        self,
        offset: int,
        payload: bytes,
        code_version: str,
        *,
        before_rename: Callable[[str], None] | None = None,
    ) -> str:
        """Store `payload` as the snapshot at `offset` (durably); return its path.

        `before_rename` is called with the temporary file's path once it is
        written and fsynced (tests widen that window to kill a writer in it).
        Raises EventStoreError when the log does not hold `offset`, and OSError.
        """
        record_crc = self._log.payload_checksum(offset)
        if record_crc is None:
            raise EventStoreError(f"no snapshot at offset {offset}: the log does not hold it")
        header = encode_snapshot_header(
            log_id=self._log.log_id,
            offset=offset,
            record_crc=record_crc,
            payload=payload,
            code_version=code_version,
        )
        with self._lock:
            os.makedirs(self.directory, exist_ok=True)
            final = os.path.join(self.directory, snapshot_name(offset))
            temporary = f"{final}.tmp-{os.getpid()}-{threading.get_ident()}"
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
            try:
                view = memoryview(header + payload)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            if before_rename is not None:
                before_rename(temporary)
            os.replace(temporary, final)
            fsync_directory(final)
            for old in self.paths()[self._keep :]:
                os.unlink(old)
            self._remove_abandoned()
            self._logger.info(
                "snapshot.written path=%s offset=%d bytes=%d", final, offset, len(payload)
            )
            return final

    def _remove_abandoned(self) -> None:
        """Remove temporary files that a writer killed half-way left (not this process's)."""
        mine = f".tmp-{os.getpid()}-"
        for name in os.listdir(self.directory):
            if ".tmp-" in name and mine not in name:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(self.directory, name))

    def load_newest(self, code_version: str) -> Snapshot | None:
        """The newest snapshot that holds against the log, or None (each refusal is logged).

        Raises OSError for a snapshot directory that cannot be listed.
        """
        return next(self.usable(code_version), None)

    def usable(self, code_version: str) -> Iterator[Snapshot]:
        """The snapshots that hold against the log, newest first, each read when reached.

        For a caller that may refuse one itself (its payload does not
        decode): it calls `refuse` and takes the next. Each refusal is
        logged. Raises OSError for a snapshot directory that cannot be listed.
        """
        for path in self.paths():
            found = self._check(path, code_version)
            if isinstance(found, Snapshot):
                yield found
            else:
                self.refuse(path, found)

    def refuse(self, path: str, reason: str) -> None:
        """Log that the snapshot at `path` is not used, and why."""
        self._logger.warning("snapshot.refused path=%s reason=%s", path, reason)

    def list(self, code_version: str | None = None) -> list[SnapshotInfo]:
        """Every snapshot, newest first, each verified (the code version too, if given)."""
        listed = []
        for path in self.paths():
            header = self._header(path)
            found = self._check(path, code_version)
            refused = None if isinstance(found, Snapshot) else found
            if isinstance(header, str):
                listed.append(
                    SnapshotInfo(
                        path=path,
                        offset=None,
                        code_version=None,
                        payload_bytes=None,
                        refused=refused,
                    )
                )
                continue
            listed.append(
                SnapshotInfo(
                    path=path,
                    offset=header.offset,
                    code_version=header.code_version,
                    payload_bytes=header.payload_bytes,
                    refused=refused,
                )
            )
        return listed

    def _header(self, path: str) -> _Header | str:
        try:
            with open(path, "rb") as file:
                return _decode_header(file.read(_FIXED.size + 0xFFFF + 4))
        except OSError as exc:
            return f"unreadable ({exc.strerror})"

    def _check(self, path: str, code_version: str | None) -> Snapshot | str:
        header = self._header(path)
        if isinstance(header, str):
            return header
        log = self._log
        offset = header.offset
        if header.log_id != log.log_id:
            return f"from another log (id {header.log_id}; this log is {log.log_id})"
        if offset > log.durable_head:
            return f"ahead of the log (offset {offset}; the log ends at {log.durable_head})"
        if offset < log.first_offset - 1:
            return (
                f"the log no longer holds the records after offset {offset} "
                f"(it starts at {log.first_offset})"
            )
        record_crc = log.payload_checksum(offset)
        if record_crc is None:
            return f"the record at offset {offset} is gone (compacted)"
        if record_crc != header.record_crc:
            return (
                f"the record at offset {offset} is not the one the snapshot was taken at "
                "(the log was repaired or rewritten since)"
            )
        if code_version is not None and header.code_version != code_version:
            return f"code version {header.code_version!r}, this program is {code_version!r}"
        try:
            with open(path, "rb") as file:
                file.seek(header.size)
                payload = file.read(header.payload_bytes + 1)
        except OSError as exc:
            return f"unreadable ({exc.strerror})"
        if len(payload) != header.payload_bytes or zlib.crc32(payload) != header.payload_crc:
            return "corrupt: the payload's size or checksum does not match"
        return Snapshot(offset=offset, payload=payload, code_version=header.code_version, path=path)
