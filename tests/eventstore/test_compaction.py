"""Compaction (offsets kept, holes allowed) and retention (old segments deleted)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from eventstore import FileEventLog, FsyncPolicy, NewRecord, OffsetOutOfRangeError, Record
from eventstore.cli import main as cli_main
from eventstore.repair import repair_directory
from eventstore.segment_reader import SegmentLogReader

from .support import rounds_of, segment_paths

SEGMENT_BYTES = 4_000


def records(count: int, start: int = 0) -> list[NewRecord]:
    return [
        NewRecord(
            ts=1_700_000_000.0 + n,
            name="cursor.moved.v1" if n % 3 else "message.sent.v1",
            data={"n": n, "text": "z" * 40},
        )
        for n in range(start, start + count)
    ]


def is_cursor(record: Record) -> bool:
    return record.name == "cursor.moved.v1"


async def open_small(path: Path) -> FileEventLog:
    """The log at `path`, with segments small enough that a few hundred records roll them."""
    return await FileEventLog.open(path, fsync=FsyncPolicy.NONE, segment_max_bytes=SEGMENT_BYTES)


def build(path: Path, count: int = 300) -> None:
    async def scenario() -> None:
        async with await open_small(path) as log:
            for start in range(0, count, 10):
                await log.append(records(10, start))

    asyncio.run(scenario())


def test_compaction_drops_selected_records_and_keeps_every_other_offset(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    build(path)

    async def scenario() -> None:
        async with await open_small(path) as log:
            before = list(log.iter_from(0))
            sealed_end = log.segments[-2].last_offset
            report = await log.compact(200, is_cursor)
            assert report.dropped > 0
            after = list(log.iter_from(0))
            compacted_end = max(s.last_offset for s in log.segments if s.compacted)
            assert compacted_end < 200
            assert after == [r for r in before if not (r.offset <= compacted_end and is_cursor(r))]
            assert len(after) < len(before)
            assert compacted_end <= sealed_end
            # Holes: reading one says it is not there; around it reads work.
            hole = next(r.offset for r in before if is_cursor(r))
            with pytest.raises(OffsetOutOfRangeError):
                log.read(hole)
            assert log.read(hole - 1) == before[hole - 2]
            assert list(log.iter_from(hole - 1)) == [r for r in after if r.offset >= hole]
            await log.append(records(1, 1000))
            assert log.head == len(before) + 1

    asyncio.run(scenario())
    with SegmentLogReader(str(path)) as reader:  # chat-log verify and dump understand holes
        reader.scan(full=True)
        assert reader.problem is None
    assert cli_main(["verify", "--log", str(path)]) == 0


def test_retention_deletes_old_segments_and_reading_before_them_is_out_of_range(
    tmp_path: Path,
) -> None:
    path = tmp_path / "events.log"
    build(path)

    async def scenario() -> None:
        async with await open_small(path) as log:
            before = list(log.iter_from(0))
            deleted = await log.delete_segments_below(150)
            assert deleted
            first = log.first_offset
            assert 1 < first <= 150
            with pytest.raises(OffsetOutOfRangeError):
                log.iter_from(0)
            with pytest.raises(OffsetOutOfRangeError):
                log.read(first - 1)
            assert list(log.iter_from(first - 1)) == before[first - 1 :]

    asyncio.run(scenario())

    async def reopen() -> int:
        async with await FileEventLog.open(path, fsync=FsyncPolicy.NONE) as log:
            return log.first_offset

    assert asyncio.run(reopen()) > 1
    assert cli_main(["verify", "--log", str(path)]) == 0


COMPACTING = """
import asyncio, sys
from eventstore import FileEventLog, FsyncPolicy

async def main():
    path = sys.argv[1]
    async with await FileEventLog.open(path, fsync=FsyncPolicy.NONE, segment_max_bytes=4000) as log:
        print("open", flush=True)
        while True:
            await log.compact(log.head, lambda r: r.name == "cursor.moved.v1" and r.offset % 2 == 0)
            await log.compact(log.head, lambda r: r.name == "cursor.moved.v1")

asyncio.run(main())
"""


@pytest.mark.slow
def test_a_kill_during_compaction_leaves_a_correct_log(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    build(path, 600)

    async def everything() -> list[Record]:
        async with await FileEventLog.open(path, fsync=FsyncPolicy.NONE) as log:
            return list(log.iter_from(0))

    original = asyncio.run(everything())
    for delay_s in (0.05, 0.1, 0.15, 0.2, 0.3, 0.45):
        with subprocess.Popen(
            [sys.executable, "-c", COMPACTING, str(path)], stdout=subprocess.PIPE, text=True
        ) as child:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "open"
            try:
                child.wait(timeout=delay_s)
            except subprocess.TimeoutExpired:
                child.kill()  # SIGKILL, somewhere in a rewrite
            child.wait(timeout=10)
        now = asyncio.run(everything())
        # Nothing but cursor moves may be gone, and nothing else may change.
        assert [r for r in now if not is_cursor(r)] == [r for r in original if not is_cursor(r)]
        assert {r.offset for r in now} <= {r.offset for r in original}
        assert now == [r for r in original if r.offset in {n.offset for n in now}]
        assert cli_main(["verify", "--log", str(path)]) == 0
        assert not list(path.glob("*.compact"))
    assert len(segment_paths(path)) > 3


def test_a_damaged_seal_of_a_compacted_segment_is_written_again_by_repair(
    tmp_path: Path,
) -> None:
    path = tmp_path / "events.log"
    build(path)

    async def compact() -> list[Record]:
        async with await open_small(path) as log:
            await log.compact(log.head, is_cursor)
            return list(log.iter_from(0))

    before = asyncio.run(compact())
    segments = segment_paths(path)
    second = segments[1]
    data_end = rounds_of(second)[-1][0]
    data = bytearray(second.read_bytes())
    data[data_end + 3] ^= 0x04  # inside its seal (its sparse index)
    second.write_bytes(bytes(data))
    assert cli_main(["verify", "--log", str(path)]) == 1
    report = repair_directory(str(path))
    assert (report.cut, report.plan.reseal) == (True, True)
    assert segment_paths(path) == segments  # nothing moved, nothing cut

    async def append() -> list[Record]:
        async with await open_small(path) as log:
            await log.append(records(5, 5000))
            return list(log.iter_from(0))

    after = asyncio.run(append())
    # The resealed range still ends where the next segment starts, holes and all.
    assert after[: len(before)] == before
    assert [r.offset for r in after[len(before) :]] == list(
        range(before[-1].offset + 1, before[-1].offset + 6)
    )
    assert cli_main(["verify", "--log", str(path)]) == 0


def test_without_recompact_segments_compacted_before_are_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    build(path)

    async def scenario() -> None:
        async with await open_small(path) as log:
            first = await log.compact(100, is_cursor)
            done = {segment for segment, _, _ in first.segments}
            again = await log.compact(250, is_cursor, recompact=False)
            assert again.segments
            assert not done & {segment for segment, _, _ in again.segments}
            everything = await log.compact(250, lambda record: False)
            assert done <= {segment for segment, _, _ in everything.segments}

    asyncio.run(scenario())
