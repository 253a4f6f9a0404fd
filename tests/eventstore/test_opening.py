"""Opening a log file: torn tails are cut and kept, corruption and foreign files refuse to open."""

from __future__ import annotations

import asyncio
import logging
import os
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
from eventstore.format import (
    FORMAT_VERSION,
    HEADER_BYTES,
)
from eventstore.lock import acquire, release
from eventstore.reader import LogReader
from eventstore.legacy import payload_offset
from eventstore.repair import repair_log

from .support import (
    EXTRA,
    SAMPLE,
    as_stored,
    frame_positions,
    new_records,
    read_log,
    write_log,
)


def test_every_truncation_point_recovers_the_whole_frames_and_appends_go_on(
    tmp_path: Path,
) -> None:
    source = tmp_path / "source.log"
    write_log(source, SAMPLE)
    data = source.read_bytes()
    ends = frame_positions(source)[1:]  # where each frame ends
    stored = as_stored(SAMPLE)
    lanes = 4  # independent files recovered side by side: the fsyncs overlap

    async def check(cut: int, log_path: Path) -> None:
        log_path.write_bytes(data[:cut])
        whole = sum(1 for end in ends if end <= cut)
        boundary = ends[whole - 1] if whole else HEADER_BYTES
        async with await FileEventLog.open(log_path, fsync=FsyncPolicy.NONE) as log:
            assert log.head == whole, cut
            assert list(log.iter_from(0)) == stored[:whole], cut
            appended = await log.append([EXTRA])
            assert appended[0].offset == whole + 1
        with LogReader(str(log_path)) as reader:  # read-only: cheaper than a reopen
            reader.scan()
            assert reader.problem is None
            assert [s.record for s in reader.records()] == [
                *stored[:whole],
                *as_stored([EXTRA], whole + 1),
            ]
        torn = sorted(log_path.parent.glob("events.log.torn-*"))
        if cut == boundary:
            assert torn == [], cut
        else:
            assert [t.name for t in torn] == [f"events.log.torn-{boundary}"], cut
            assert torn[0].read_bytes() == data[boundary:cut]
            torn[0].unlink()

    async def lane(number: int) -> None:
        log_path = tmp_path / f"lane-{number}" / "events.log"
        log_path.parent.mkdir()
        for cut in range(HEADER_BYTES + number, len(data) + 1, lanes):
            await check(cut, log_path)

    async def scenario() -> None:
        await asyncio.gather(*(lane(n) for n in range(lanes)))

    asyncio.run(scenario())


def test_a_torn_tail_is_logged_with_its_position(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "events.log"
    write_log(path, SAMPLE[:3])
    size = path.stat().st_size
    with path.open("ab") as file:
        file.write(b"\x00\x00\x00\x40\x12")
    with caplog.at_level(logging.WARNING, logger="eventstore"):
        _, records = read_log(path)
    assert len(records) == 3
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert f"position={size}" in warning.getMessage()
    assert "cut_bytes=5" in warning.getMessage()


def test_a_zero_filled_tail_is_a_torn_write(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    write_log(path, SAMPLE)
    size = path.stat().st_size
    with path.open("ab") as file:
        file.write(bytes(4096))
    _, records = read_log(path)
    assert records == as_stored(SAMPLE)
    assert path.stat().st_size == size


@pytest.mark.parametrize("where", ["payload", "checksum", "length"])
def test_a_damaged_frame_mid_log_refuses_to_open_and_repair_keeps_the_prefix(
    tmp_path: Path, where: str
) -> None:
    path = tmp_path / "events.log"
    write_log(path, SAMPLE)
    original = path.read_bytes()
    position = frame_positions(path)[9]  # the frame of offset 10
    damaged = bytearray(original)
    damaged[position + {"payload": 12, "checksum": 5, "length": 2}[where]] ^= 0x40
    path.write_bytes(bytes(damaged))

    with pytest.raises(CorruptLogError) as caught:
        read_log(path)
    assert (caught.value.offset, caught.value.position) == (10, position)
    assert f"offset 10 (byte position {position})" in str(caught.value)
    assert "chat-log verify" in str(caught.value)
    assert "chat-log repair" in str(caught.value)

    report = repair_log(str(path))
    plan = report.plan
    assert plan.problem is not None
    assert report.cut
    assert (plan.kept_records, plan.cut_from) == (9, position)
    assert plan.cut_bytes == len(original) - position
    assert plan.lost_last_offset == len(SAMPLE)  # offsets 11..20 still read: they go too
    assert report.backup_path is not None
    assert Path(report.backup_path).read_bytes() == bytes(damaged)
    _, records = read_log(path)
    assert records == as_stored(SAMPLE[:9])
    asyncio.run(_append_one(path))
    _, records = read_log(path)
    assert records[-1].offset == 10


async def _append_one(path: Path) -> None:
    async with await FileEventLog.open(path, fsync=FsyncPolicy.NONE) as log:
        await log.append([EXTRA])


def test_frames_larger_than_a_read_block_and_offsets_of_every_integer_width(
    tmp_path: Path,
) -> None:
    path = tmp_path / "events.log"
    big = NewRecord(ts=1.0, name="big.v1", data={"blob": os.urandom(3 * 1024 * 1024)})
    small = [NewRecord(ts=float(i), name="n.v1", data={"i": i}) for i in range(70_000)]
    records = [SAMPLE[0], big, *small, big]
    write_log(path, records, batch=10_000)
    _, stored = read_log(path)
    assert stored == as_stored(records)
    assert [payload_offset(b"\x94" + bytes([0xCF]) + (2**40).to_bytes(8, "big"))] == [2**40]


def test_an_unknown_format_version_refuses_to_open_and_releases_the_lock(
    tmp_path: Path,
) -> None:
    path = tmp_path / "events.log"
    write_log(path, SAMPLE[:2])
    data = bytearray(path.read_bytes())
    data[8:10] = (FORMAT_VERSION + 1).to_bytes(2, "big")
    path.write_bytes(bytes(data))
    with pytest.raises(UnsupportedFormatError, match=f"version {FORMAT_VERSION + 1}") as caught:
        read_log(path)
    assert caught.value.version == FORMAT_VERSION + 1
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


def test_a_damaged_header_refuses_to_open(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    write_log(path, SAMPLE[:2])
    data = bytearray(path.read_bytes())
    data[20] ^= 1  # inside the log id
    path.write_bytes(bytes(data))
    with pytest.raises(NotAnEventLogError, match="header checksum"):
        read_log(path)


@settings(max_examples=40)
@given(records=st.lists(new_records, max_size=8))
def test_random_records_roundtrip_through_a_file(
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
    size = path.stat().st_size
    messages = [r.getMessage() for r in caplog.records]
    assert any(f"scanned_bytes={size} file_bytes={size}" in m for m in messages), messages
    assert any("log.opened" in m and "records=20" in m for m in messages)
