"""Files: an upload is stored (durably) before its message is appended; downloads stream.

How this works: `check_upload` asks the send rules (`check_send`) before a
single body byte is read, so an upload that would be refused (not a member,
banned, too large) is answered at once and `100 Continue` is only sent for
acceptable ones. `upload` then streams the body into the blob store
(temporary file, fsync, rename) and only then sends the message with the
file's name, size, type and SHA-256, through the same path as any message
(the rules decide again: the state may have changed while the body came).
A crash between the two leaves an orphan blob that is removed at the next
start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator

from attrs import frozen

from app.blobs import BlobNoSpaceError, BlobStore, BlobTooLargeError
from app.core import Core
from app.inputs import check_target
from app.messages import Messages
from app.views import FileView, MessageView, Session
from domain import (
    ConflictError,
    FileRef,
    InsufficientStorageError,
    NotFoundError,
    NotMemberError,
    RateLimitedError,
    TooLargeError,
    check_content_type,
    check_file_name,
    check_send,
    check_text,
)

log = logging.getLogger("app.files")


@frozen(kw_only=True)
class UploadPlan:
    """An upload the rules accept, waiting for its bytes."""

    room: str | None
    to: str | None
    name: str
    content_type: str
    text: str
    declared_bytes: int | None = None  # what Content-Length said (charged up front)


async def _prepend(first: bytes | None, rest: AsyncGenerator[bytes, None]) -> AsyncIterator[bytes]:
    async with contextlib.aclosing(rest):
        if first is None:
            return
        yield first
        async for chunk in rest:
            yield chunk


class Files:
    """Uploads and downloads of files up to `max_file_bytes`."""

    def __init__(self, core: Core, messages: Messages, blobs: BlobStore | None = None) -> None:
        self._core = core
        self._messages = messages
        self._blobs = blobs

    @property
    def blobs(self) -> BlobStore:
        """The store under `<data_dir>/blobs`, made on first use (tests may pass their own)."""
        if self._blobs is None:
            settings = self._core.settings
            self._blobs = BlobStore(
                settings.data_dir / "blobs",
                max_bytes=settings.max_file_bytes,
                room_left=self._core.disk.room_left,
            )
        return self._blobs

    def check_upload(
        self,
        session: Session,
        *,
        room: str | None,
        to: str | None,
        name: object,
        content_type: str | None,
        text: str | None = None,
        declared_bytes: int | None = None,
    ) -> UploadPlan:
        """Decide whether an upload would be accepted, before its body is read.

        Raises ValidationError, NotFoundError, NotMemberError, BannedError,
        RateLimitedError, TooLargeError.
        """
        core = self._core
        name = check_file_name(name)
        content_type = check_content_type(content_type)
        room, to = check_target(room, to)
        text = check_text(name if text is None else text)
        limit = core.settings.max_file_bytes
        if declared_bytes is not None and declared_bytes > limit:
            raise TooLargeError(limit, size=declared_bytes)
        core.disk.check(declared_bytes or 0)
        self._check_quota(session, declared_bytes or 0)
        check_send(
            core.model,
            author=session.user,
            text=text,
            room=room,
            to=to,
            now=core.now(),
            config=core.rules,
        )
        core.budgets.charge(session.user_key, "uploads", size=declared_bytes or 0)
        return UploadPlan(
            room=room,
            to=to,
            name=name,
            content_type=content_type,
            text=text,
            declared_bytes=declared_bytes,
        )

    def _check_quota(self, session: Session, more_bytes: int) -> None:
        """Refuse an upload that would take the user past their stored-bytes quota.

        Raises RateLimitedError saying when enough of the user's files expire.
        """
        core = self._core
        quota = core.settings.max_stored_bytes_per_user
        now = core.now()
        files = core.model.timeline.files_of(session.user_key, now)
        stored = sum(file.size for _, file in files)
        if stored + more_bytes <= quota:
            return
        freed, wait = 0, core.settings.message_ttl_s
        for record, file in files:  # oldest first: they expire first
            freed += file.size
            if stored - freed + more_bytes <= quota:
                wait = record.ts + core.settings.message_ttl_s - now
                break
        raise RateLimitedError(
            max(wait, 1.0),
            quota,
            what=f"your files take {stored} of the {quota} bytes one user may store",
        )

    async def upload(
        self,
        session: Session,
        plan: UploadPlan,
        body: AsyncIterable[bytes],
        *,
        idempotency_key: str | None = None,
    ) -> MessageView:
        """Store the bytes, then send the message that carries them.

        Raises TooLargeError, InsufficientStorageError (the disk fell below
        the floor while the bytes came), and the errors of `Messages.send`.
        """
        if idempotency_key is not None:  # a repeat: answer before storing anything
            earlier = await self._messages.earlier_result(session, idempotency_key)
            if isinstance(earlier, MessageView):
                return earlier
            if earlier is not None:
                raise ConflictError("this Idempotency-Key was used for a scheduled message")
        try:
            blob = await self.blobs.store(body)
        except BlobTooLargeError as exc:
            raise TooLargeError(exc.max_bytes) from None
        except BlobNoSpaceError:
            raise InsufficientStorageError(0, self._core.disk.floor_bytes) from None
        if plan.declared_bytes is None:  # chunked: the bytes are known only now
            self._core.budgets.charge(session.user_key, "uploads", size=blob.size, force=True)
        file = FileRef(
            name=plan.name, size=blob.size, content_type=plan.content_type, sha256=blob.sha256
        )
        return await self._messages.send_now(
            session,
            text=plan.text,
            room=plan.room,
            to=plan.to,
            idempotency_key=idempotency_key,
            file=file,
        )

    def find(self, session: Session, message: int) -> FileView:
        """The file of a message the caller may read.

        Raises NotFoundError (unknown, expired, no file), NotMemberError.
        """
        core = self._core
        now = core.now()
        model = core.model
        record = model.readable_message(session.user_key, message, now)
        if record is None or record.file is None or message > core.durable_head:
            room = model.message_room(message, now)
            group = room is not None and model.room_kind(room) == "group"
            if group and room is not None and not model.is_member(room, session.user):
                raise NotMemberError("only members of the message's room may download its file")
            # Anything else the caller may not read (a direct message of others,
            # a message from before they joined) is as unknown as a missing one.
            raise NotFoundError(f"there is no file in message {message}")
        file = record.file
        return FileView(
            name=file.name, size=file.size, content_type=file.content_type, sha256=file.sha256
        )

    async def open(self, file: FileView) -> AsyncIterator[bytes]:
        """The file's bytes, in chunks read off the event loop.

        The first chunk is read before returning, so a blob missing from disk
        is a clean NotFoundError, not a response cut short after its headers.
        """
        chunks = self.blobs.read(file.sha256)
        try:
            first = await anext(chunks, None)
        except FileNotFoundError:
            log.exception("blob missing on disk sha256=%s name=%s", file.sha256, file.name)
            raise NotFoundError("the file's content is missing on the server") from None
        return _prepend(first, chunks)

    async def remove_orphans(self) -> int:
        """Delete blobs no unexpired message refers to, and unfinished uploads (at start).

        A service with no data directory on disk (a memory log) has nothing
        to remove, and is given no `blobs/` directory until the first upload.
        """
        if self._blobs is None and not self._core.settings.data_dir.exists():
            return 0
        live = self._core.model.timeline.live_blobs(self._core.now())
        return await asyncio.to_thread(self.blobs.remove_orphans, live)

    async def sweep(self) -> int:
        """Delete blobs whose messages have all expired; returns how many.

        A blob younger than `blob_grace_s` is kept whatever refers to it: it
        may belong to an upload whose message is being appended.
        """
        if self._blobs is None and not self._core.settings.data_dir.exists():
            return 0
        live = self._core.model.timeline.live_blobs(self._core.now())
        removed = await asyncio.to_thread(
            self.blobs.sweep, live, older_than_s=self._core.settings.blob_grace_s
        )
        if removed:
            log.info("expired files deleted count=%d", removed)
        return removed

    async def sweep_forever(self) -> None:
        """Sweep every `blob_sweep_interval_s`; cancel to stop."""
        while True:
            await asyncio.sleep(self._core.settings.blob_sweep_interval_s)
            try:
                await self.sweep()
            except OSError:
                log.exception("sweeping expired files failed; trying again later")
