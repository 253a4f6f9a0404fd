"""Opening a data directory: what the service refuses to start on, and says why."""

from __future__ import annotations

import asyncio
import hashlib
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app import StartupError, open_service
from app.blobs import BlobStore
from app.service import prepare_data_dir
from eventstore import FileEventLog, FsyncPolicy, NewRecord
from tests.blackbox.support import fast_settings


async def _write(path: Path, records: list[NewRecord]) -> None:
    log = await FileEventLog.open(path, fsync=FsyncPolicy.NONE)
    await log.append(records)
    await log.close()


@pytest.mark.parametrize(
    ("name", "data", "why"),
    [
        ("message.sent.v7", {"room": "general", "author": "a", "text": "t"}, "unknown event"),
        ("message.sent.v1", {"room": "general", "author": "a", "text": 5}, "wrong type"),
        ("cursor.moved.v1", {"user": "a"}, "missing"),
    ],
)
def test_an_unreadable_event_stops_the_start_naming_its_offset(
    tmp_path: Path, name: str, data: dict[str, object], why: str
) -> None:
    good = NewRecord(
        ts=1.0,
        name="room.created.v1",
        data={"room": "general", "kind": "general", "name": "general", "members": []},
    )
    asyncio.run(_write(tmp_path / "events.log", [good, NewRecord(ts=2.0, name=name, data=data)]))
    with pytest.raises(StartupError, match="offset 2") as info:
        asyncio.run(open_service(fast_settings(tmp_path)))
    assert why in str(info.value)
    # and the log was released: a fixed build could open it again
    asyncio.run(_write(tmp_path / "events.log", []))


def test_a_new_data_directory_and_its_files_are_the_owners_alone(tmp_path: Path) -> None:
    async def scenario() -> None:
        old = os.umask(0o022)  # a typical umask: would make files world-readable
        try:
            data = tmp_path / "data"
            prepare_data_dir(data)
            assert stat.S_IMODE(data.stat().st_mode) == 0o700
            store = BlobStore(data / "blobs", max_bytes=100)
            blob = await store.store(_one(b"secret"))
            for path in (data / "blobs", data / "blobs" / "tmp", store.path(blob.sha256)):
                assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
        finally:
            os.umask(old)

    asyncio.run(scenario())


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


def test_an_unsafe_data_directory_is_refused_saying_why(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(real)
    with pytest.raises(StartupError, match="symbolic link"):
        prepare_data_dir(link)
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(StartupError, match="others may write"):
        prepare_data_dir(shared)
    afile = tmp_path / "afile"
    afile.write_text("")
    with pytest.raises(StartupError, match="not a directory"):
        prepare_data_dir(afile)
    prepare_data_dir(real)  # a private directory of ours is fine


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory to another user needs root")
def test_a_data_directory_of_another_user_is_refused(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, 65534, 65534)  # nobody
    with pytest.raises(StartupError, match="belongs to uid 65534"):
        prepare_data_dir(theirs)


def test_a_planted_link_in_the_blob_store_is_never_followed(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = BlobStore(tmp_path / "blobs", max_bytes=100)
        target = tmp_path / "victim"
        target.write_bytes(b"keep me")
        sha = hashlib.sha256(b"keep me").hexdigest()
        store.path(sha).symlink_to(target)
        with pytest.raises(OSError, match=r"link|Too many levels"):
            await anext(store.read(sha))
        assert target.read_bytes() == b"keep me"

    asyncio.run(scenario())
