"""A start from a snapshot: the newest one that verifies, else an older one, else the whole log.

Each test writes a real data directory through `open_service`, spoils the
snapshots the way the world does (bit rot, a copy from another server, a log
restored from an older backup, an upgrade of the fold, `chat-log repair`),
and starts again: the start logs why it refused each snapshot and still
ends in the state a replay of the whole log gives.
"""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import shutil
from pathlib import Path
from typing import Any

import pytest

from app import ChatService, Settings, StartupError, open_service
from app.snapshots import SnapshotDecodeError, code_version, decode_model, encode_model
from domain import MessageSent, decode, encode
from eventstore import FileEventLog, FsyncPolicy, NewRecord, ReadOnlyLog
from eventstore.cli import main as chat_log
from projections import ReadModel, fold
from tests.app.support import FakeClock, login, send
from tests.blackbox.support import fast_settings


def settings(data_dir: Path, **overrides: Any) -> Settings:
    """No snapshot in the background: the tests decide when there is one."""
    values: dict[str, Any] = {"snapshot_every_events": 0, "snapshot_interval_s": 0.0}
    return fast_settings(data_dir, segment_max_bytes=4096, **values | overrides)


def snapshot_dir(data_dir: Path) -> Path:
    return data_dir / "events.log" / "snapshots"


async def chat(data_dir: Path, clock: FakeClock, *, messages: int = 10) -> ReadModel:
    """Users talk and read; the server stops cleanly (writing a snapshot). The model then."""
    service = await open_service(settings(data_dir), clock=clock)
    ann, bob = await login(service, "ann"), await login(service, "bob")
    for n in range(messages):
        clock.advance(1.0)
        await send(service, ann if n % 2 else bob, f"hello {n}")
        await service.polling.poll(bob, after=service.health().offset, timeout_s=0)
        await service.polling.flush()
    await service.close()
    return service.core.model


def whole_log(data_dir: Path, config: Settings | None = None) -> ReadModel:
    """What folding every event of the log gives (the state any start must reach)."""
    config = config or settings(data_dir)
    log_path = str(data_dir / "events.log")
    with ReadOnlyLog(log_path, upto=_head(log_path)) as view:
        entries = [(r.offset, r.ts, decode(r.name, r.data)) for r in view.iter_from(0)]
    return fold(ReadModel(ttl_s=config.message_ttl_s, rate_window_s=config.rate_window_s), entries)


def _head(log_path: str) -> int:
    async def head() -> int:
        async with await FileEventLog.open(log_path, fsync=FsyncPolicy.NONE) as log:
            return log.durable_head

    return asyncio.run(head())


def started(data_dir: Path, **overrides: Any) -> tuple[int | None, ReadModel]:
    """Start on `data_dir`: the snapshot offset the start used, and the model it reached."""

    async def start() -> tuple[int | None, ReadModel]:
        service: ChatService = await open_service(settings(data_dir, **overrides))
        try:
            return service.snapshots.started_from, service.core.model
        finally:
            service.snapshots.offset = service.core.durable_head  # leave the snapshots be
            await service.close()

    return asyncio.run(start())


def refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "snapshot.refused" in r.getMessage()]


def write_snapshot(data_dir: Path, offset: int, payload: bytes, version: str) -> None:
    log_path = str(data_dir / "events.log")
    with ReadOnlyLog(log_path, upto=_head(log_path)) as view:
        view.snapshot_store().write(offset, payload, version)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data directory with two snapshots: one from each of two clean shutdowns."""
    data = tmp_path / "data"
    clock = FakeClock()
    asyncio.run(chat(data, clock))
    asyncio.run(chat(data, clock))
    return data


def test_a_clean_restart_starts_from_the_shutdown_snapshot_and_replays_nothing(
    data_dir: Path,
) -> None:
    head = _head(str(data_dir / "events.log"))
    offset, model = started(data_dir)
    assert offset == head
    assert model == whole_log(data_dir)


def test_a_damaged_snapshot_is_refused_and_the_older_one_is_used(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    newest, older = sorted(snapshot_dir(data_dir).iterdir(), reverse=True)
    data = bytearray(newest.read_bytes())
    data[-10] ^= 0x01  # bit rot in the payload
    newest.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING):
        offset, model = started(data_dir)
    assert offset == int(older.stem.split("-")[1])
    assert model == whole_log(data_dir)
    assert "payload's size or checksum" in refusals(caplog)[0]


def test_a_snapshot_from_another_log_is_refused(
    data_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    other = tmp_path / "other"
    asyncio.run(chat(other, FakeClock(), messages=30))  # a longer log: its snapshot is newer
    for snapshot in snapshot_dir(other).iterdir():
        shutil.copy(snapshot, snapshot_dir(data_dir))
    with caplog.at_level(logging.WARNING):
        offset, model = started(data_dir)
    assert model == whole_log(data_dir)
    assert offset is not None
    assert "from another log" in refusals(caplog)[0]


def test_a_snapshot_ahead_of_a_log_restored_from_an_older_copy_is_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data, backup = tmp_path / "data", tmp_path / "backup"
    clock = FakeClock()
    asyncio.run(chat(data, clock))
    shutil.copytree(data, backup)
    asyncio.run(chat(data, clock))  # the log and its snapshot move on
    newest = max(snapshot_dir(data).iterdir())
    shutil.copy(newest, snapshot_dir(backup))
    with caplog.at_level(logging.WARNING):
        offset, model = started(backup)
    assert model == whole_log(backup)
    assert offset is not None
    assert offset < int(newest.stem.split("-")[1])
    assert "ahead of the log" in refusals(caplog)[0]


def test_a_snapshot_of_an_older_fold_is_refused_and_the_whole_log_replayed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    asyncio.run(chat(data, FakeClock()))
    head = _head(str(data / "events.log"))
    shutil.rmtree(snapshot_dir(data))
    older = code_version(settings(data)).replace("projections-", "projections-0")
    write_snapshot(data, head, encode_model(ReadModel(ttl_s=1.0)), older)
    with caplog.at_level(logging.WARNING):
        offset, model = started(data)
    assert offset is None
    assert model == whole_log(data)
    assert "code version" in refusals(caplog)[0]


def test_a_start_with_another_message_lifetime_does_not_use_the_snapshots(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        offset, model = started(data_dir, message_ttl_s=60.0)
    assert offset is None
    assert model == whole_log(data_dir, settings(data_dir, message_ttl_s=60.0))
    assert all("code version" in refusal for refusal in refusals(caplog))


def test_a_payload_that_does_not_decode_is_refused_and_the_older_one_is_used(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    head = _head(str(data_dir / "events.log"))
    version = code_version(settings(data_dir))
    older = max(snapshot_dir(data_dir).iterdir())
    write_snapshot(data_dir, head, b"\x80\x05not a pickle", version)
    with caplog.at_level(logging.WARNING):
        offset, model = started(data_dir)
    assert model == whole_log(data_dir)
    assert offset is not None
    assert offset <= int(older.stem.split("-")[1])
    assert "does not decode" in refusals(caplog)[0]


class Planted:
    """What someone who could write the data directory might leave in a snapshot."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, ("echo this must not run",))


def test_a_payload_that_names_anything_but_the_model_is_refused() -> None:
    with pytest.raises(SnapshotDecodeError, match=r"may not name posix\.system"):
        decode_model(pickle.dumps(Planted(), protocol=5))
    with pytest.raises(SnapshotDecodeError, match="not a ReadModel"):
        decode_model(pickle.dumps({"a": 1}, protocol=5))


def test_a_snapshot_of_a_log_that_repair_cut_and_that_grew_again_is_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    asyncio.run(chat(data, FakeClock(), messages=40))
    log_path = data / "events.log"
    (snapshot,) = snapshot_dir(data).iterdir()
    at = int(snapshot.stem.split("-")[1])
    active = max(log_path.glob("*.seg"))
    spoiled = bytearray(active.read_bytes())
    spoiled[len(spoiled) // 2] ^= 0x10  # a round in the middle of the newest segment
    active.write_bytes(bytes(spoiled))
    assert chat_log(["repair", "--yes", "--log", str(log_path)]) == 0
    grow(log_path, at - _head(str(log_path)) + 5)  # offset `at` holds another event now
    with caplog.at_level(logging.WARNING):
        offset, model = started(data)
    assert offset is None
    assert model == whole_log(data)
    assert "not the one the snapshot was taken at" in refusals(caplog)[0]


def grow(log_path: Path, count: int) -> None:
    """Append `count` messages by a writer that takes no snapshot."""

    async def append() -> None:
        async with await FileEventLog.open(log_path, fsync=FsyncPolicy.NONE) as log:
            name, data = encode(MessageSent(room="general", author="ann", text="again"))
            await log.append([NewRecord(ts=1_900_000_000.0, name=name, data=data)] * count)

    asyncio.run(append())


def test_no_start_when_retention_deleted_what_no_usable_snapshot_covers(tmp_path: Path) -> None:
    data = tmp_path / "data"
    asyncio.run(chat(data, FakeClock(), messages=40))

    async def delete_old_segments() -> int:
        async with await FileEventLog.open(data / "events.log", fsync=FsyncPolicy.NONE) as log:
            await log.delete_segments_below(log.segments[-1].base_offset)
            return log.first_offset

    assert asyncio.run(delete_old_segments()) > 1
    shutil.rmtree(snapshot_dir(data))
    with pytest.raises(StartupError, match="no snapshot that covers them"):
        started(data)
