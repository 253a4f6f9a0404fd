"""The file log's writer: group commit, fsync policies, fatal disk errors, reads, close."""

from __future__ import annotations

import asyncio
import errno
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from eventstore import (
    CorruptLogError,
    EventStoreError,
    FileEventLog,
    FsyncPolicy,
    LogFailedError,
    NewRecord,
    OffsetOutOfRangeError,
    RecordTooLargeError,
)

from .support import (
    SAMPLE,
    CountingSync,
    active_segment,
    as_stored,
    read_log,
    record,
    record_round,
    segment_paths,
    write_log,
)


def test_concurrent_appenders_get_dense_ordered_offsets_and_share_fsyncs(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    sync = CountingSync()
    acknowledged: dict[int, NewRecord] = {}

    async def appender(log: FileEventLog, n: int) -> list[int]:
        batch = [record(n)] if n % 3 else [record(n), record(n + 10_000)]
        stored = await log.append(batch)
        for new, got in zip(batch, stored, strict=True):
            acknowledged[got.offset] = new
        return [r.offset for r in stored]

    async def scenario() -> list[list[int]]:
        async with await FileEventLog.open(path, fdatasync=sync) as log:
            results = await asyncio.gather(*(appender(log, n) for n in range(200)))
            assert log.durable_head == log.head == len(acknowledged)
            return results

    results = asyncio.run(scenario())
    offsets = [o for batch in results for o in batch]
    assert sorted(offsets) == list(range(1, len(offsets) + 1))  # dense and unique
    # Offsets follow the order the batches were staged in (gather starts them in order).
    assert offsets == sorted(offsets)
    assert all(batch == list(range(batch[0], batch[0] + len(batch))) for batch in results)
    assert sync.calls < 50, f"{sync.calls} fsyncs for 200 concurrent appends: no group commit"
    _, stored = read_log(path)
    assert stored == [as_stored([acknowledged[o]], o)[0] for o in range(1, len(acknowledged) + 1)]


def test_a_failing_fsync_fails_the_waiting_batches_and_every_later_append(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    sync = CountingSync(fail_after=1)

    async def scenario() -> None:
        log = await FileEventLog.open(path, fdatasync=sync)
        await log.append(SAMPLE[:2])  # the first fsync works
        sync.gate.clear()  # hold the next round so that several batches share it
        first = log.append_nowait(SAMPLE[2:3])
        await asyncio.sleep(0.05)  # the writer takes `first` and waits at the gate
        second = log.append_nowait(SAMPLE[3:4])  # staged for the round after
        sync.gate.set()
        for pending in (first, second):
            with pytest.raises(LogFailedError, match="refuses all further appends"):
                await pending.wait_durable()
        assert log.durable_head == 2
        with pytest.raises(LogFailedError):
            log.append_nowait(SAMPLE[4:5])
        with pytest.raises(LogFailedError):
            await log.append(SAMPLE[4:5])
        assert sync.calls == 2  # never retried
        assert [r.offset for r in log.iter_from(0)] == [1, 2]
        with pytest.raises(OffsetOutOfRangeError):
            log.read(3)  # never durable: not served
        await log.close()

    asyncio.run(scenario())
    _, stored = read_log(path)
    assert stored[:2] == as_stored(SAMPLE[:2])


def test_a_failing_write_is_fatal_too(tmp_path: Path) -> None:
    def no_space(fd: int, data: bytes | memoryview, position: int) -> int:
        raise OSError(errno.ENOSPC, "injected: no space left")

    def nothing_written(fd: int, data: bytes | memoryview, position: int) -> int:
        return 0

    async def scenario(pwrite: object) -> None:
        async with await FileEventLog.open(
            tmp_path / f"{id(pwrite)}.log",
            pwrite=pwrite,  # type: ignore[arg-type]
        ) as log:
            with pytest.raises(LogFailedError):
                await log.append(SAMPLE[:1])
            with pytest.raises(LogFailedError):
                log.append_nowait(SAMPLE[1:2])

    asyncio.run(scenario(no_space))
    asyncio.run(scenario(nothing_written))


def test_short_writes_are_continued_until_the_whole_round_is_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "events.log"

    def dribble(fd: int, data: bytes | memoryview, position: int) -> int:
        return os.pwrite(fd, data[:7], position)

    async def scenario() -> None:
        async with await FileEventLog.open(path, pwrite=dribble) as log:
            await asyncio.gather(*(log.append([r]) for r in SAMPLE))

    asyncio.run(scenario())
    _, stored = read_log(path)
    assert sorted(r.name for r in stored) == sorted(r.name for r in SAMPLE)


def test_interval_policy_acknowledges_written_batches_and_fsyncs_when_idle(tmp_path: Path) -> None:
    sync = CountingSync()
    interval_s = 1.0  # long enough that a loaded machine cannot make a round due by accident

    async def scenario() -> None:
        async with await FileEventLog.open(
            tmp_path / "events.log",
            fsync=FsyncPolicy.INTERVAL,
            fsync_interval_s=interval_s,
            fdatasync=sync,
        ) as log:
            started = time.monotonic()
            for r in SAMPLE[:10]:
                await log.append([r])  # acknowledged once written
            assert log.durable_head == 10
            if time.monotonic() - started < interval_s:  # else a stalled machine made one due
                assert sync.calls == 0
            while sync.calls == 0 and time.monotonic() - started < 10 * interval_s:
                await asyncio.sleep(0.02)
            assert sync.calls >= 1  # the background flush while idle
            assert time.monotonic() - started >= interval_s * 0.9
            flushed_at, flushes = time.monotonic(), sync.calls
            await log.append(SAMPLE[10:11])  # due again only after another interval
            if time.monotonic() - flushed_at < interval_s:
                assert sync.calls == flushes

    asyncio.run(scenario())


def test_none_policy_fsyncs_only_at_close(tmp_path: Path) -> None:
    sync = CountingSync()
    path = tmp_path / "events.log"

    async def scenario() -> None:
        log = await FileEventLog.open(path, fsync=FsyncPolicy.NONE, fdatasync=sync)
        for r in SAMPLE:
            await log.append([r])
        assert sync.calls == 0
        await log.close()
        assert sync.calls == 2  # the data, then the round that claims it durable

    asyncio.run(scenario())
    assert read_log(path)[1] == as_stored(SAMPLE)


def test_close_writes_everything_staged(tmp_path: Path) -> None:
    path = tmp_path / "events.log"

    async def scenario() -> None:
        log = await FileEventLog.open(path)
        for r in SAMPLE:
            log.append_nowait([r])
        await log.close()

    asyncio.run(scenario())
    assert read_log(path)[1] == as_stored(SAMPLE)


def test_staged_records_read_back_from_memory_but_readers_stop_at_durable_head(
    tmp_path: Path,
) -> None:
    sync = CountingSync()

    async def scenario() -> None:
        async with await FileEventLog.open(tmp_path / "events.log", fdatasync=sync) as log:
            await log.append(SAMPLE[:2])
            sync.gate.clear()
            inflight = log.append_nowait(SAMPLE[2:4])
            await asyncio.sleep(0.05)  # the round is at the gate
            staged = log.append_nowait(SAMPLE[4:5])
            assert (log.durable_head, log.head) == (2, 5)
            assert [log.read(n).name for n in (3, 4, 5)] == [r.name for r in SAMPLE[2:5]]
            assert [r.offset for r in log.iter_from(0)] == [1, 2]
            sync.gate.set()
            await inflight.wait_durable()
            await staged.wait_durable()
            assert [r.offset for r in log.iter_from(0)] == [1, 2, 3, 4, 5]

    asyncio.run(scenario())


def test_a_cancelled_waiter_does_not_cancel_the_round_it_shares(tmp_path: Path) -> None:
    sync = CountingSync()

    async def scenario() -> None:
        async with await FileEventLog.open(tmp_path / "events.log", fdatasync=sync) as log:
            sync.gate.clear()
            one = log.append_nowait(SAMPLE[:1])
            two = log.append_nowait(SAMPLE[1:2])
            waiter = asyncio.create_task(one.wait_durable())
            await asyncio.sleep(0.02)
            waiter.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiter
            sync.gate.set()
            await two.wait_durable()
            await one.wait_durable()
            assert log.durable_head == 2

    asyncio.run(scenario())


def test_iterating_a_closed_log_fails_instead_of_reading_a_reused_descriptor(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        log = await FileEventLog.open(tmp_path / "events.log", fsync=FsyncPolicy.NONE)
        await log.append([NewRecord(ts=1.0, name="n.v1", data={"i": i}) for i in range(5)])
        records = log.iter_from(0)
        await log.close()
        with pytest.raises(EventStoreError, match="closed"):
            next(records)

    asyncio.run(scenario())


CRASHING_WRITER = """
import asyncio, sys
from eventstore import FileEventLog, NewRecord

async def writer(log, n):
    i = 0
    while True:
        i += 1
        record = NewRecord(ts=float(n), name="w.v1", data={"w": n, "i": i, "t": "x" * (i % 90)})
        [stored] = await log.append([record])
        print(stored.offset, n, i, flush=True)

async def main():
    log = await FileEventLog.open(sys.argv[1], segment_max_bytes=int(sys.argv[2]))
    await asyncio.gather(*(writer(log, n) for n in range(16)))

asyncio.run(main())
"""


@pytest.mark.parametrize(
    "segment_max_bytes", [64 * 1024 * 1024, 3_000], ids=["one segment", "rolling segments"]
)
def test_every_acknowledged_append_survives_a_killed_writer(
    tmp_path: Path, segment_max_bytes: int
) -> None:
    path = tmp_path / "events.log"
    for _ in range(2):  # the second run appends to what the first left behind
        before = read_log(path)[1] if path.exists() else []
        acknowledged: dict[int, tuple[int, int]] = {}
        with subprocess.Popen(
            [sys.executable, "-c", CRASHING_WRITER, str(path), str(segment_max_bytes)],
            stdout=subprocess.PIPE,
            text=True,
        ) as writer:
            assert writer.stdout is not None
            for line in writer.stdout:
                offset, n, i = map(int, line.split())
                acknowledged[offset] = (n, i)
                if len(acknowledged) == 2000:
                    writer.kill()  # SIGKILL: no close, no flush, no goodbye
                    break
            writer.wait(timeout=10)
        _, stored = read_log(path)
        by_offset = {r.offset: r for r in stored}
        assert [r.offset for r in stored] == list(range(1, len(stored) + 1))
        assert stored[: len(before)] == before
        for offset, (n, i) in acknowledged.items():
            assert (by_offset[offset].data["w"], by_offset[offset].data["i"]) == (n, i)
    if segment_max_bytes < 10_000:
        assert len(segment_paths(path)) > 10  # killed in the middle of rolls, some time


def test_a_failing_background_fsync_under_interval_is_fatal_too(tmp_path: Path) -> None:
    sync = CountingSync(fail_after=0)

    async def scenario() -> None:
        async with await FileEventLog.open(
            tmp_path / "events.log",
            fsync=FsyncPolicy.INTERVAL,
            fsync_interval_s=0.5,
            fdatasync=sync,
        ) as log:
            await log.append(SAMPLE[:1])  # written: acknowledged under INTERVAL
            async with asyncio.timeout(10):
                while True:  # the idle flush comes, and fails
                    try:
                        log.append_nowait([])
                    except LogFailedError:
                        break
                    await asyncio.sleep(0.01)
            assert sync.calls == 1
            with pytest.raises(LogFailedError):
                await log.append(SAMPLE[1:2])

    asyncio.run(scenario())


def test_a_failing_final_fsync_makes_close_raise_and_still_releases_the_lock(
    tmp_path: Path,
) -> None:
    path = tmp_path / "events.log"
    sync = CountingSync(fail_after=0)

    async def scenario() -> None:
        log = await FileEventLog.open(path, fsync=FsyncPolicy.NONE, fdatasync=sync)
        await log.append(SAMPLE[:2])
        with pytest.raises(LogFailedError):
            await log.close()
        async with await FileEventLog.open(path) as again:  # the lock is free
            assert again.head == 2

    asyncio.run(scenario())


def test_closing_from_several_tasks_at_once_closes_once(tmp_path: Path) -> None:
    path = tmp_path / "events.log"

    async def scenario() -> None:
        log = await FileEventLog.open(path)
        for r in SAMPLE:
            log.append_nowait([r])
        await asyncio.gather(log.close(), log.close(), log.close())
        await log.close()

    asyncio.run(scenario())
    assert read_log(path)[1] == as_stored(SAMPLE)


def test_close_after_the_writer_task_was_cancelled_still_releases_everything(
    tmp_path: Path,
) -> None:
    path = tmp_path / "events.log"

    async def scenario() -> None:
        log = await FileEventLog.open(path)
        await log.append(SAMPLE[:2])
        log._writer.cancel()  # what a loop teardown does to stray tasks
        await asyncio.sleep(0)
        with pytest.raises(LogFailedError, match="cancelled"):
            log.append_nowait(SAMPLE[2:3])
        await log.close()
        async with await FileEventLog.open(path) as again:
            assert again.head == 2

    asyncio.run(scenario())


def test_interval_acknowledges_a_round_without_waiting_for_a_due_fsync(tmp_path: Path) -> None:
    sync = CountingSync()

    async def scenario() -> None:
        async with await FileEventLog.open(
            tmp_path / "events.log",
            fsync=FsyncPolicy.INTERVAL,
            fsync_interval_s=0.0,  # every round makes an fsync due
            fdatasync=sync,
        ) as log:
            sync.gate.clear()  # the disk hangs on fsync
            async with asyncio.timeout(5):
                await log.append(SAMPLE[:1])  # written, so acknowledged
            assert log.durable_head == 1
            sync.gate.set()
            await log.append(SAMPLE[1:2])
        assert sync.calls >= 2

    asyncio.run(scenario())


def test_a_record_over_the_cap_is_refused_and_nothing_is_staged(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with await FileEventLog.open(tmp_path / "events.log", max_frame_bytes=1024) as log:
            await log.append(SAMPLE[:2])
            big = NewRecord(ts=1.0, name="big.v1", data={"text": "x" * 2000})
            with pytest.raises(RecordTooLargeError):
                log.append_nowait([SAMPLE[2], big])
            assert log.head == 2
            assert [r.offset for r in await log.append(SAMPLE[2:3])] == [3]

    asyncio.run(scenario())


def test_a_frame_damaged_while_the_log_is_open_is_refused_on_read(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    write_log(path, SAMPLE)
    position = record_round(path, 5)

    async def scenario() -> None:
        async with await FileEventLog.open(path, fsync=FsyncPolicy.NONE) as log:
            assert log.read(5) == as_stored(SAMPLE)[4]
            with active_segment(path).open("r+b") as file:  # bit rot under a running server
                file.seek(position + 40)
                byte = file.read(1)
                file.seek(position + 40)
                file.write(bytes([byte[0] ^ 0x01]))
            with pytest.raises(CorruptLogError, match="checksum mismatch on read") as caught:
                log.read(5)
            assert (caught.value.offset, caught.value.position) == (5, position)
            assert log.read(6) == as_stored(SAMPLE)[5]

    asyncio.run(scenario())


ROLL_KILLED = """
import asyncio, os, sys, time
import eventstore.group_commit as group_commit
from eventstore import FileEventLog, NewRecord
from eventstore.segment import segment_name

stage = sys.argv[2]
original = group_commit.Disk.seal_and_roll


def paused(self, active, seal, directory):
    # Stop at one point of the roll and wait for the SIGKILL.
    if stage == "half-seal":
        self.write_at(active.fd, seal[: len(seal) // 2], active.data_end, True, 0)
    elif stage in ("sealed", "next-segment-unnamed"):
        self.write_at(active.fd, seal, active.data_end, True, 0)
        if stage == "next-segment-unnamed":
            name = os.path.join(directory, segment_name(active.last_offset + 1) + ".new")
            with open(name, "wb") as file:
                file.write(b"CHATLOG")
    else:
        return original(self, active, seal, directory)
    print("rolling", flush=True)
    time.sleep(60)


group_commit.Disk.seal_and_roll = paused


async def main():
    async with await FileEventLog.open(sys.argv[1], segment_max_bytes=1500) as log:
        for i in range(10_000):
            [stored] = await log.append([NewRecord(ts=1.0, name="r.v1", data={"i": i})])
            print(stored.offset, i, flush=True)

asyncio.run(main())
"""


@pytest.mark.parametrize("stage", ["half-seal", "sealed", "next-segment-unnamed"])
def test_a_kill_during_a_segment_roll_loses_nothing_acknowledged(
    tmp_path: Path, stage: str
) -> None:
    path = tmp_path / "events.log"
    acknowledged: dict[int, int] = {}
    with subprocess.Popen(
        [sys.executable, "-c", ROLL_KILLED, str(path), stage], stdout=subprocess.PIPE, text=True
    ) as writer:
        assert writer.stdout is not None
        for line in writer.stdout:
            if line.strip() == "rolling":
                writer.kill()  # SIGKILL in the middle of the roll
                break
            offset, i = map(int, line.split())
            acknowledged[offset] = i
        writer.wait(timeout=10)
    assert acknowledged
    _, stored = read_log(path)
    assert [r.offset for r in stored] == list(range(1, len(stored) + 1))
    for offset, i in acknowledged.items():
        assert stored[offset - 1].data["i"] == i
    assert not list(path.glob("*.new"))
    # The log goes on: appends roll again and reopen.
    write_log(
        path,
        [NewRecord(ts=2.0, name="after.v1", data={"n": n}) for n in range(40)],
        segment_max_bytes=1500,
    )
    _, again = read_log(path)
    assert again[: len(stored)] == stored
    assert [r.name for r in again[len(stored) :]] == ["after.v1"] * 40
