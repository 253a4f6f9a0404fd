"""Files on the service: disk use bounded by expiry, a per-user quota and a free-space floor."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from attrs import evolve

from app import ChatService, MessageView, Session
from app.disk import DiskFloor
from domain import InsufficientStorageError, RateLimitedError
from eventstore import MemoryEventLog
from tests.app.support import FAST, FakeClock, counter_tokens, login, run, send

KIB = 1024
MIB = 1024 * KIB


async def body(data: bytes) -> AsyncIterator[bytes]:
    yield data


class Disk:
    """A file system whose free space the test sets."""

    def __init__(self, free: int) -> None:
        self.free = free

    def __call__(self, path: Path) -> int:
        return self.free


async def service_in(
    tmp_path: Path, *, clock: FakeClock, disk: Disk | None = None, **settings: object
) -> ChatService:
    settings = {"min_free_disk_bytes": 0, **settings}
    configured = evolve(FAST, data_dir=tmp_path, **settings)  # type: ignore[arg-type]
    service = ChatService(configured, MemoryEventLog(), clock=clock, token_factory=counter_tokens())
    if disk is not None:
        service.core.disk = DiskFloor(
            tmp_path, configured.min_free_disk_bytes, measure=disk, clock=clock
        )
    service.replay()
    await service.start(timers=False)
    return service


async def upload(service: ChatService, session: Session, data: bytes, name: str) -> MessageView:
    plan = service.files.check_upload(
        session,
        room=None,
        to=None,
        name=name,
        content_type="application/octet-stream",
        declared_bytes=len(data),
    )
    return await service.files.upload(session, plan, body(data))


def blobs(tmp_path: Path) -> set[str]:
    return {p.name for p in (tmp_path / "blobs").iterdir() if p.is_file()}


def age(path: Path, seconds: float) -> None:
    """Make a file look `seconds` older than it is."""
    stat = path.stat()
    os.utime(path, (stat.st_atime - seconds, stat.st_mtime - seconds))


def test_files_are_deleted_when_their_messages_expire(tmp_path: Path) -> None:
    async def scenario() -> None:
        clock = FakeClock()
        service = await service_in(tmp_path, clock=clock)
        ann = await login(service, "ann")
        old = await upload(service, ann, b"old bytes", "old.txt")
        clock.advance(FAST.message_ttl_s / 2)
        new = await upload(service, ann, b"new bytes", "new.txt")
        assert old.file is not None
        assert new.file is not None
        for sha in (old.file.sha256, new.file.sha256):
            age(tmp_path / "blobs" / sha, FAST.blob_grace_s + 1)
        assert await service.files.sweep() == 0  # both still shown
        clock.advance(FAST.message_ttl_s / 2 + 1)
        assert await service.files.sweep() == 1
        assert blobs(tmp_path) == {new.file.sha256}
        await service.close()

    run(scenario)


def test_a_young_blob_is_never_swept_and_a_repeat_upload_makes_its_blob_young(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        clock = FakeClock()
        service = await service_in(tmp_path, clock=clock)
        ann = await login(service, "ann")
        first = await upload(service, ann, b"same", "a.txt")
        assert first.file is not None
        path = tmp_path / "blobs" / first.file.sha256
        clock.advance(FAST.message_ttl_s + 1)  # its message expired...
        assert await service.files.sweep() == 0  # ...but the blob is young
        age(path, FAST.blob_grace_s + 1)
        await upload(service, ann, b"same", "b.txt")  # the same bytes again, stored once
        assert await service.files.sweep() == 0
        assert path.exists()
        await service.close()

    run(scenario)


def test_a_user_may_store_so_much_until_their_files_expire(tmp_path: Path) -> None:
    async def scenario() -> None:
        clock = FakeClock()
        service = await service_in(tmp_path, clock=clock, max_stored_bytes_per_user=10 * KIB)
        ann = await login(service, "ann")
        bob = await login(service, "bob")
        await upload(service, ann, os.urandom(6 * KIB), "one")
        clock.advance(100.0)
        with pytest.raises(RateLimitedError, match="your files take") as refused:
            await upload(service, ann, os.urandom(6 * KIB), "two")
        assert refused.value.retry_after_s == pytest.approx(FAST.message_ttl_s - 100.0)
        await upload(service, bob, os.urandom(6 * KIB), "bob's")  # a quota per user
        clock.advance(refused.value.retry_after_s + 0.001)
        await upload(service, ann, os.urandom(6 * KIB), "two")
        await service.close()

    run(scenario)


def test_below_the_floor_writes_are_refused_and_reads_go_on(tmp_path: Path) -> None:
    async def scenario() -> None:
        clock = FakeClock()
        disk = Disk(free=100 * MIB)
        service = await service_in(tmp_path, clock=clock, disk=disk, min_free_disk_bytes=8 * MIB)
        ann = await login(service, "ann")
        await send(service, ann, "before")
        disk.free = 6 * MIB  # below the floor, above the hard floor
        clock.advance(2.0)
        head = service.core.event_log.head
        with pytest.raises(InsufficientStorageError):
            await send(service, ann, "after")
        with pytest.raises(InsufficientStorageError):
            await upload(service, ann, b"bytes", "f")
        with pytest.raises(InsufficientStorageError):
            await service.rooms.create(ann, name="r")
        assert service.core.event_log.head == head  # nothing appended
        history = await service.messages.history(ann, "general", before=None, limit=None)
        assert [m.text for m in history.messages] == ["before"]
        await service.polling.poll(ann, after=0, timeout_s=0)
        await service.polling.flush()  # cursors and sign-outs still go through
        await service.identity.disconnect(ann)
        disk.free = 100 * MIB
        clock.advance(2.0)
        bob = await login(service, "bob")
        head = service.core.event_log.head
        await send(service, bob, "hi")
        disk.free = 2 * MIB  # below the hard floor: nothing at all is written
        clock.advance(2.0)
        page = await service.polling.poll(bob, after=head, timeout_s=0)
        await service.polling.poll(bob, after=page.next, timeout_s=0)  # acknowledges "hi"
        head = service.core.event_log.head
        with pytest.raises(InsufficientStorageError):
            await service.polling.flush()
        assert service.core.event_log.head == head
        assert "bob" in service.polling.pending_cursors  # kept for later
        disk.free = 100 * MIB
        clock.advance(2.0)
        await service.polling.flush()
        assert "bob" not in service.polling.pending_cursors
        await send(service, bob, "room again")
        await service.close()

    run(scenario)


def test_an_upload_stops_when_the_disk_fills_while_it_comes_in(tmp_path: Path) -> None:
    async def scenario() -> None:
        clock = FakeClock()
        disk = Disk(free=10 * KIB * KIB)
        service = await service_in(tmp_path, clock=clock, disk=disk, min_free_disk_bytes=KIB * KIB)
        ann = await login(service, "ann")
        plan = service.files.check_upload(
            ann, room=None, to=None, name="big", content_type=None, declared_bytes=None
        )

        async def filling() -> AsyncIterator[bytes]:
            for _ in range(8):
                yield b"x" * (256 * KIB)
                disk.free -= 2 * KIB * KIB  # someone else writes meanwhile

        with pytest.raises(InsufficientStorageError):
            await service.files.upload(ann, plan, filling())
        assert blobs(tmp_path) == set()
        assert list((tmp_path / "blobs" / "tmp").iterdir()) == []
        await service.close()

    run(scenario)
