"""Snapshots: written atomically, verified against the log, refused with a reason."""

from __future__ import annotations

import asyncio
import logging
import shutil
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from eventstore import EventStoreError, FileEventLog, FsyncPolicy, NewRecord, SnapshotStore
from eventstore.repair import repair_directory

from .support import SAMPLE, active_segment, record_round, write_log

T = TypeVar("T")
VERSION = "app-1"


def with_log(path: Path, body: Callable[[FileEventLog], Awaitable[T]], **options: object) -> T:
    async def scenario() -> T:
        async with await FileEventLog.open(path, fsync=FsyncPolicy.NONE, **options) as log:  # type: ignore[arg-type]
            return await body(log)

    return asyncio.run(scenario())


def refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "snapshot.refused" in r.getMessage()]


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    path = tmp_path / "events.log"
    write_log(path, SAMPLE)
    return path


def test_a_snapshot_roundtrips_and_only_the_newest_two_are_kept(log_path: Path) -> None:
    async def body(log: FileEventLog) -> None:
        store = log.snapshot_store()
        for offset in (5, 10, 15):
            # From a worker thread, as the app does (off the event loop).
            await asyncio.to_thread(store.write, offset, f"state@{offset}".encode(), VERSION)
        assert [Path(p).name for p in store.paths()] == [
            "snapshot-00000000000000000015.snap",
            "snapshot-00000000000000000010.snap",
        ]
        newest = store.load_newest(VERSION)
        assert newest is not None
        assert (newest.offset, newest.payload, newest.code_version) == (15, b"state@15", VERSION)
        assert [i.refused for i in store.list(VERSION)] == [None, None]

    with_log(log_path, body)
    assert not [p for p in (log_path / "snapshots").iterdir() if ".tmp" in p.name]


def test_writes_from_several_threads_leave_whole_snapshots(log_path: Path) -> None:
    async def body(log: FileEventLog) -> None:
        store = SnapshotStore(log.path, log, keep=20)
        threads = [
            threading.Thread(target=store.write, args=(n, bytes([n]) * 100_000, VERSION))
            for n in range(1, 21)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(store.paths()) == 20
        assert all(info.refused is None for info in store.list(VERSION))

    with_log(log_path, body)


def test_no_snapshot_at_an_offset_the_log_does_not_hold(log_path: Path) -> None:
    async def body(log: FileEventLog) -> None:
        store = SnapshotStore(log.path, log)
        for offset in (0, 21):
            with pytest.raises(EventStoreError, match="does not hold"):
                store.write(offset, b"x", VERSION)
        assert store.load_newest(VERSION) is None

    with_log(log_path, body)


def write_one(path: Path, offset: int, payload: bytes = b"state", version: str = VERSION) -> str:
    async def body(log: FileEventLog) -> str:
        return SnapshotStore(log.path, log).write(offset, payload, version)

    return with_log(path, body)


def load(path: Path, version: str = VERSION) -> tuple[int, bytes] | None:
    async def body(log: FileEventLog) -> tuple[int, bytes] | None:
        found = SnapshotStore(log.path, log).load_newest(version)
        return None if found is None else (found.offset, found.payload)

    return with_log(path, body)


def test_a_corrupt_snapshot_is_refused_and_the_older_one_used(
    log_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_one(log_path, 10, b"older")
    newest = Path(write_one(log_path, 20, b"newer"))
    data = bytearray(newest.read_bytes())
    data[-1] ^= 0x01  # a payload byte
    newest.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="eventstore"):
        assert load(log_path) == (10, b"older")
    [refused] = refusals(caplog)
    assert "payload's size or checksum" in refused
    data[10] ^= 0x01  # the header
    newest.write_bytes(bytes(data))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="eventstore"):
        assert load(log_path) == (10, b"older")
    assert "header checksum" in refusals(caplog)[0]


def test_a_snapshot_of_another_log_is_refused(
    log_path: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    other = tmp_path / "other.log"
    write_log(other, SAMPLE)
    snapshot = Path(write_one(other, 12))
    (log_path / "snapshots").mkdir()
    shutil.copy(snapshot, log_path / "snapshots" / snapshot.name)
    with caplog.at_level(logging.WARNING, logger="eventstore"):
        assert load(log_path) is None
    assert "from another log" in refusals(caplog)[0]


def test_a_snapshot_ahead_of_the_log_is_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "events.log"
    write_log(path, SAMPLE[:10])
    copy = tmp_path / "copy-at-10"
    shutil.copytree(path, copy)
    write_log(path, SAMPLE[10:])
    write_one(path, 18)
    for segment in path.glob("*.seg"):
        segment.unlink()
    for segment in copy.glob("*.seg"):  # the log restored from an older copy
        shutil.copy(segment, path / segment.name)
    with caplog.at_level(logging.WARNING, logger="eventstore"):
        assert load(path) is None
    assert "ahead of the log (offset 18; the log ends at 10)" in refusals(caplog)[0]


def test_a_snapshot_from_an_older_code_version_is_refused(
    log_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_one(log_path, 20, version="app-0")
    with caplog.at_level(logging.WARNING, logger="eventstore"):
        assert load(log_path, "app-1") is None
    assert "code version 'app-0'" in refusals(caplog)[0]


def test_a_snapshot_of_a_log_that_was_repaired_and_grew_again_is_refused(
    log_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_one(log_path, 15)
    segment = active_segment(log_path)
    data = bytearray(segment.read_bytes())
    data[record_round(log_path, 12) + 40] ^= 0x10
    segment.write_bytes(bytes(data))
    assert repair_directory(str(log_path)).cut  # offsets 12.. are gone

    async def grow(log: FileEventLog) -> None:
        assert log.head == 11
        await log.append([NewRecord(ts=5.0, name="other.v1", data={"i": i}) for i in range(9)])

    with_log(log_path, grow)  # offset 15 exists again, with another record
    with caplog.at_level(logging.WARNING, logger="eventstore"):
        assert load(log_path) is None
    assert "not the one the snapshot was taken at" in refusals(caplog)[0]


def test_usable_gives_the_verified_ones_newest_first_and_a_caller_may_refuse_one(
    log_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def body(log: FileEventLog) -> None:
        store = SnapshotStore(log.path, log, keep=3)
        for offset in (5, 10, 15):
            store.write(offset, f"state@{offset}".encode(), VERSION)
        assert store.offsets() == [15, 10, 5]
        with caplog.at_level(logging.WARNING):
            usable = store.usable(VERSION)
            newest = next(usable)
            store.refuse(newest.path, "the payload does not decode")
            assert [s.offset for s in usable] == [10, 5]
        assert refusals(caplog) == [
            f"snapshot.refused path={newest.path} reason=the payload does not decode"
        ]

    with_log(log_path, body)


def test_before_rename_sees_the_whole_temporary_file_and_nothing_is_renamed_yet(
    log_path: Path,
) -> None:
    seen: list[tuple[bytes, list[int]]] = []

    async def body(log: FileEventLog) -> None:
        store = log.snapshot_store()

        def hook(temporary: str) -> None:
            seen.append((Path(temporary).read_bytes()[-5:], store.offsets()))

        store.write(7, b"state", VERSION, before_rename=hook)
        assert store.offsets() == [7]

    with_log(log_path, body)
    assert seen == [(b"state", [])]
