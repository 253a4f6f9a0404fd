"""Files every replica can read: a JetStream object store bucket, objects named by the caller.

Objects stream from and into files chunk by chunk (nats-py reads and writes
them in a worker thread), never concatenated in memory. Objects expire
`ttl_s` after their last put; putting the same name again starts it anew.
"""

from __future__ import annotations

import asyncio
import os
from typing import Final

import nats.js.errors
from nats.js.api import ObjectStoreConfig, StorageType
from nats.js.object_store import ObjectStore

from eventstore.errors import LogUnavailableError
from eventstore.jetstream import JetStreamEventLog
from eventstore.jetstream_setup import NETWORK_ERRORS

# The object store's own chunk size (nats-py's default is 128 KiB).
CHUNK_BYTES: Final = 128 * 1024


class ObjectBucket:
    """An object store bucket beside a JetStream log (`<stream>_files`)."""

    def __init__(self, log: JetStreamEventLog, *, ttl_s: float, timeout_s: float) -> None:
        self._log = log
        self.name = f"{log.stream}_files"
        self._ttl_s = ttl_s
        self._timeout_s = timeout_s
        self._store: ObjectStore | None = None

    async def _bucket(self) -> ObjectStore:
        if self._store is None:
            js = self._log.js
            try:
                self._store = await js.object_store(self.name)
            except nats.js.errors.BucketNotFoundError:
                self._store = await js.create_object_store(
                    self.name,
                    config=ObjectStoreConfig(ttl=self._ttl_s, storage=StorageType.FILE),
                )
        return self._store

    async def put_file(self, name: str, path: str | os.PathLike[str]) -> None:
        """Store the file at `path` as `name`. Raises LogUnavailableError."""
        try:
            async with asyncio.timeout(self._timeout_s):
                store = await self._bucket()
                with open(path, "rb") as file:  # noqa: ASYNC230 - nats-py reads it in a thread
                    await store.put(name, file)
        except (*NETWORK_ERRORS, nats.js.errors.Error) as exc:
            raise LogUnavailableError(f"cannot store {name}: {exc!r}", retry_after_s=1.0) from exc

    async def get_file(self, name: str, path: str | os.PathLike[str]) -> None:
        """Write object `name` into a new file at `path`.

        Raises FileNotFoundError (no such object), LogUnavailableError.
        """
        try:
            async with asyncio.timeout(self._timeout_s):
                store = await self._bucket()
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
                with open(fd, "wb") as file:  # noqa: ASYNC230 - nats-py writes it in a thread
                    await store.get(name, writeinto=file)
        except nats.js.errors.ObjectNotFoundError as exc:
            raise FileNotFoundError(name) from exc
        except nats.js.errors.NotFoundError as exc:
            raise FileNotFoundError(name) from exc
        except (*NETWORK_ERRORS, nats.js.errors.Error) as exc:
            raise LogUnavailableError(f"cannot fetch {name}: {exc!r}", retry_after_s=1.0) from exc

    def __repr__(self) -> str:
        return f"ObjectBucket({self.name!r})"
