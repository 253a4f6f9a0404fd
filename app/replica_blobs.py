"""Uploaded files on every replica: the local blob store, backed by a JetStream object store.

How this works: an upload is stored locally as on a single server (temporary
file, fsync, rename), then put into the object store under its SHA-256
before `store` returns, so before the message that refers to it is appended:
every replica that follows the message can fetch the bytes. A replica that
is asked for a blob it lacks fetches it into a temporary file, checks its
SHA-256 and moves it into its local store (its cache), then serves it from
there. Objects expire a while after the message would (`message_ttl_s` plus
the sweep's grace); putting the same bytes again starts them anew.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections.abc import AsyncGenerator, AsyncIterable
from pathlib import Path

from app.blobs import READ_CHUNK_BYTES, BlobStore, StoredBlob
from app.settings import Settings
from domain import UnavailableError
from eventstore import JetStreamEventLog, LogUnavailableError, ObjectBucket

log = logging.getLogger("app.replica_blobs")

_HASH_CHUNK_BYTES = 1024 * 1024


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(_HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


class ReplicatedBlobs(BlobStore):
    """A `BlobStore` whose blobs are also in the object store shared by the replicas."""

    def __init__(self, root: Path, bucket: ObjectBucket, *, max_bytes: int) -> None:
        super().__init__(root, max_bytes=max_bytes)
        self._bucket = bucket

    @classmethod
    def for_log(cls, settings: Settings, event_log: JetStreamEventLog) -> ReplicatedBlobs:
        bucket = ObjectBucket(
            event_log,
            ttl_s=settings.message_ttl_s + settings.blob_grace_s,
            timeout_s=max(settings.nats_timeout_s, 60.0),
        )
        return cls(settings.data_dir / "blobs", bucket, max_bytes=settings.max_file_bytes)

    async def store(self, chunks: AsyncIterable[bytes]) -> StoredBlob:
        """Store locally, then in the object store.

        Raises what `BlobStore.store` raises, and UnavailableError when the
        object store cannot take it (the upload is refused with 503).
        """
        blob = await super().store(chunks)
        try:
            await self._bucket.put_file(blob.sha256, self.path(blob.sha256))
        except LogUnavailableError as exc:
            raise UnavailableError(
                f"the shared file store cannot take the upload: {exc}", retry_after_s=1.0
            ) from exc
        return blob

    async def read(
        self, sha256: str, *, chunk_bytes: int = READ_CHUNK_BYTES
    ) -> AsyncGenerator[bytes, None]:
        """Yield the blob, fetching it from the object store first when it is not here."""
        if not self.has(sha256):
            await self._fetch(sha256)
        async for chunk in super().read(sha256, chunk_bytes=chunk_bytes):
            yield chunk

    async def _fetch(self, sha256: str) -> None:
        """Fetch one blob into the local store. Raises FileNotFoundError."""
        tmp = self.root / "tmp" / f"{secrets.token_hex(16)}.fetch"
        try:
            await self._bucket.get_file(sha256, tmp)
            if await asyncio.to_thread(_sha256_of, tmp) != sha256:
                raise FileNotFoundError(f"{sha256}: fetched bytes do not match")
            size = tmp.stat().st_size
            await asyncio.to_thread(self._commit, tmp, StoredBlob(sha256=sha256, size=size))
        except LogUnavailableError as exc:
            log.warning("blob %s: cannot fetch it now: %s", sha256, exc)
            raise FileNotFoundError(sha256) from exc
        finally:
            tmp.unlink(missing_ok=True)
