"""Opening a log: unacknowledged tails are cut and kept, corruption and foreign files refuse."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import eventstore.opening as opening_module
from eventstore import (
    CorruptLogError,
    FileEventLog,
    FsyncPolicy,
    NewRecord,
    NotAnEventLogError,
    UnsupportedFormatError,
)
from eventstore.lock import acquire, release
from eventstore.repair import repair_directory
from eventstore.segment_codec import SEGMENT_HEADER_BYTES, SEGMENT_VERSION
from eventstore.segment_reader import SegmentLogReader

from .support import (
    EXTRA,
    SAMPLE,
    active_segment,
    as_stored,
    new_records,
    read_log,
    record_round,
    rounds_of,
    write_log,
)


def test_every_truncation_point_of_the_active_segment_recovers_the_whole_rounds(
    tmp_path: Path,
) -> None:
    source = tmp_path / "source" / "events.log"
    write_log(source, SAMPLE)  # one round per record, then the claim at close
    segment = active_segment(source)
    name = segment.name
    data = segment.read_bytes()
    ends = [position for position, _first, _count in rounds_of(segment)[1:]]
    stored = as_stored(SAMPLE)
    lanes = 4  # independent logs recovered side by side: the fsyncs overlap

    async def check(cut: int, log_path: Path) -> None:
        (log_path / name).write_bytes(data[:cut])
        whole = min(sum(1 for end in ends if end <= cut), len(SAMPLE))
        boundary = max([SEGMENT_HEADER_BYTES, *(end for end in ends if end <= cut)])
        async with await FileEventLog.open(log_path, fsync=FsyncPolicy.NONE) as log:
            assert log.head == whole, cut
            assert list(log.iter_from(0)) == stored[:whole], cut
            appended = await log.append([EXTRA])
            assert appended[0].offset == whole + 1
        with SegmentLogReader(str(log_path)) as reader:  # read-only: cheaper than a reopen
            reader.scan(full=True)
            assert reader.problem is None
            assert [s.record for s in reader.records()] == [
                *stored[:whole],
                *as_stored([EXTRA], whole + 1),
            ]
        torn = sorted(log_path.glob(f"{name}.torn-*"))
        if cut == boundary:
            assert torn == [], cut
        else:
            assert [t.name for t in torn] == [f"{name}.torn-{boundary}"], cut
            assert torn[0].read_bytes() == data[boundary:cut]
            torn[0].unlink()

    async def lane(number: int) -> None:
        log_path = tmp_path / f"lane-{number}" / "events.log"
        shutil.copytree(source, log_path)
        for cut in range(SEGMENT_HEADER_BYTES + number, len(data) + 1, lanes):
            await check(cut, log_path)

    async def scenario() -> None:
        await asyncio.gather(*(lane(n) for n in range(lanes)))

    asyncio.run(scenario())


def test_a_torn_tail_is_logged_with_its_position(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "events.log"
    write_log(path, SAMPLE[:3])
    segment = active_segment(path)
    size = segment.stat().st_size
    with segment.open("ab") as file:
        file.write(b"RND2\x00\x00\x00\x40\x12")
    with caplog.at_level(logging.WARNING, logger="eventstore"):
        _, records = read_log(path)
    assert len(records) == 3
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert f"position={size}" in warning.getMessage()
    assert "cut_bytes=9" in warning.getMessage()


def test_a_zero_filled_tail_is_a_torn_write(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    write_log(path, SAMPLE)
    segment = active_segment(path)
    size = segment.stat().st_size
    with segment.open("ab") as file:
        file.write(bytes(4096))
    _, records = read_log(path)
    assert records == as_stored(SAMPLE)
    assert segment.stat().st_size == size


@pytest.mark.parametrize("where", ["body", "header checksum", "body size"])
def test_a_damaged_round_mid_log_refuses_to_open_and_repair_keeps_the_prefix(
    tmp_path: Path, where: str
) -> None:
    path = tmp_path / "events.log"
    write_log(path, SAMPLE)
    segment = active_segment(path)
    original = segment.read_bytes()
    position = record_round(path, 10)
    damaged = bytearray(original)
    damaged[position + {"body": 40, "header checksum": 33, "body size": 6}[where]] ^= 0x40
    segment.write_bytes(bytes(damaged))

    with pytest.raises(CorruptLogError) as caught:
        read_log(path)
    assert (caught.value.offset, caught.value.position) == (10, position)
    assert f"offset 10 (byte position {position})" in str(caught.value)
    assert "was written after offset 10 was durable" in str(caught.value)
    assert "chat-log repair" in str(caught.value)

    report = repair_directory(str(path))
    plan = report.plan
    assert plan.problem is not None
    assert report.cut
    assert (plan.kept_records, plan.cut_from) == (9, position)
    assert plan.cut_bytes == len(original) - position
    assert plan.lost_last_offset == len(SAMPLE)  # offsets 11..20 still read: they go too
    assert report.backup_path is not None
    assert (Path(report.backup_path) / segment.name).read_bytes() == bytes(damaged)
    _, records = read_log(path)
    assert records == as_stored(SAMPLE[:9])
    asyncio.run(_append_one(path))
    _, records = read_log(path)
    assert records[-1].offset == 10


async def _append_one(path: Path) -> None:
    async with await FileEventLog.open(path, fsync=FsyncPolicy.NONE) as log:
        await log.append([EXTRA])


def test_rounds_larger_than_a_read_block(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    big = NewRecord(ts=1.0, name="big.v1", data={"blob": os.urandom(3 * 1024 * 1024)})
    small = [NewRecord(ts=float(i), name="n.v1", data={"i": i}) for i in range(70_000)]
    records = [SAMPLE[0], big, *small, big]
    write_log(path, records, batch=10_000)
    _, stored = read_log(path)
    assert stored == as_stored(records)


def test_an_unknown_format_version_refuses_to_open_and_releases_the_lock(
    tmp_path: Path,
) -> None:
    path = tmp_path / "events.log"
    write_log(path, SAMPLE[:2])
    segment = active_segment(path)
    data = bytearray(segment.read_bytes())
    data[8:10] = (SEGMENT_VERSION + 1).to_bytes(2, "big")
    segment.write_bytes(bytes(data))
    with pytest.raises(UnsupportedFormatError, match=f"version {SEGMENT_VERSION + 1}") as caught:
        read_log(path)
    assert caught.value.version == SEGMENT_VERSION + 1
    release(acquire(str(path)))  # the failed open let go of the lock


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty"),
        (b"CHATLOG\0\0", "shorter than"),
        (b"GIF89a" + bytes(40), "bad magic"),
    ],
)
def test_a_file_that_is_not_a_log_refuses_to_open(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    path = tmp_path / "events.log"
    path.write_bytes(content)
    with pytest.raises(NotAnEventLogError, match=reason):
        read_log(path)
    assert path.read_bytes() == content  # nothing upgraded, nothing moved


def test_a_directory_without_segments_or_with_a_damaged_header_refuses_to_open(
    tmp_path: Path,
) -> None:
    empty = tmp_path / "empty.log"
    empty.mkdir()
    with pytest.raises(NotAnEventLogError, match="no segment"):
        read_log(empty)
    path = tmp_path / "events.log"
    write_log(path, SAMPLE[:2])
    segment = active_segment(path)
    data = bytearray(segment.read_bytes())
    data[20] ^= 1  # inside the log id
    segment.write_bytes(bytes(data))
    with pytest.raises(NotAnEventLogError, match="header checksum"):
        read_log(path)


@settings(max_examples=40)
@given(records=st.lists(new_records, max_size=8))
def test_random_records_roundtrip_through_a_log(
    tmp_path_factory: pytest.TempPathFactory, records: list[NewRecord]
) -> None:
    path = tmp_path_factory.mktemp("roundtrip") / "events.log"
    log_id = write_log(path, records, batch=3)
    reopened_id, stored = read_log(path)
    assert (reopened_id, stored) == (log_id, as_stored(records))


def test_the_open_time_scan_reports_its_progress(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "events.log"
    write_log(path, SAMPLE)
    monkeypatch.setattr(opening_module, "SCAN_REPORT_EVERY_S", 0.0)  # every block
    with caplog.at_level(logging.INFO, logger="eventstore"):
        read_log(path)
    size = active_segment(path).stat().st_size
    messages = [r.getMessage() for r in caplog.records]
    assert any(f"scanned_bytes={size} file_bytes={size}" in m for m in messages), messages
    assert any("log.opened" in m and "records=20" in m for m in messages)


def test_leftovers_of_an_interrupted_roll_or_compaction_are_removed(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    write_log(path, SAMPLE)
    (path / "00000000000000000021.seg.new").write_bytes(b"CHATLOG\0")
    (path / "00000000000000000001.seg.compact").write_bytes(b"CHATLOG\0")
    assert read_log(path)[1] == as_stored(SAMPLE)
    assert sorted(p.name for p in path.iterdir()) == ["00000000000000000001.seg"]


@pytest.mark.parametrize("part", ["index", "trailer"])
def test_a_damaged_seal_is_cut_on_the_newest_segment_and_resealed_by_repair_before_it(
    tmp_path: Path, part: str
) -> None:
    path = tmp_path / "events.log"
    records = [NewRecord(ts=1.0, name="n.v1", data={"i": i, "t": "x" * 50}) for i in range(60)]
    write_log(path, records, segment_max_bytes=1_500)
    segments = sorted(path.glob("*.seg"))
    assert len(segments) > 3

    def damage_seal(segment: Path) -> None:
        data = bytearray(segment.read_bytes())
        data[{"index": -60, "trailer": -3}[part]] ^= 0x10  # 60 back: the last index entry
        segment.write_bytes(bytes(data))

    # A power cut can leave a seal's trailer without its index (one write, one fsync):
    # on the newest segment that is a half-written seal, cut without an operator.
    last_sealed = segments[-2]
    sealed_through = int(segments[-1].name.removesuffix(".seg")) - 1
    segments[-1].unlink()  # the roll after the seal never created the next segment
    damage_seal(last_sealed)
    _, stored = read_log(path)
    assert stored == as_stored(records)[:sealed_through]  # every round of it was durable
    # Before the newest it is corruption: the open refuses, repair writes the seal again.
    shutil.rmtree(path)
    write_log(path, records, segment_max_bytes=1_500)
    middle = sorted(path.glob("*.seg"))[1]
    damage_seal(middle)
    with pytest.raises(CorruptLogError, match="not sealed"):
        read_log(path)
    report = repair_directory(str(path))
    assert report.cut
    assert report.plan.reseal
    assert read_log(path)[1] == as_stored(records)
