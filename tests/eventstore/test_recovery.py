"""Recovery at open: torn tails are cut and kept, corruption refuses to open."""

from __future__ import annotations

import asyncio
import logging
import os
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import eventstore.file as file_module
from eventstore import (
    CorruptLogError,
    FileEventLog,
    FsyncPolicy,
    NewRecord,
    NotAnEventLogError,
    RecordTooLargeError,
    UnsupportedFormatError,
)
from eventstore.cli import main as cli_main
from eventstore.format import (
    DEFAULT_MAX_FRAME_BYTES,
    FORMAT_VERSION,
    HEADER_BYTES,
    PRead,
    encode_frame,
    encode_header,
    frame_checksum,
)
from eventstore.lock import acquire, release
from eventstore.reader import LogReader
from eventstore.recovery import ScanResult, payload_offset, repair_log, scan_log

from .support import SAMPLE, as_stored, frame_positions, new_records, read_log, write_log

EXTRA = NewRecord(ts=2_000_000_000.0, name="after.recovery.v1", data={"n": 1})


def bytes_reader(data: bytes) -> PRead:
    def pread(size: int, position: int) -> bytes:
        return data[position : position + size]

    return pread


def scan_bytes(data: bytes) -> ScanResult:
    return scan_log(bytes_reader(data), file_size=len(data), path="mem.log")


def log_bytes(records: list[NewRecord]) -> tuple[bytes, list[int]]:
    """A whole log in memory, and the start of each frame plus the end."""
    parts = [encode_header(b"\x01" * 16)]
    positions = [HEADER_BYTES]
    for offset, r in enumerate(records, start=1):
        frame = encode_frame(offset, r.ts, r.name, r.data, max_frame_bytes=DEFAULT_MAX_FRAME_BYTES)
        parts.append(frame)
        positions.append(positions[-1] + len(frame))
    return b"".join(parts), positions


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
    assert report.problem is not None
    assert (report.kept_records, report.cut_from) == (9, position)
    assert report.cut_bytes == len(original) - position
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


def test_repair_of_a_whole_log_cuts_nothing_and_makes_no_backup(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    write_log(path, SAMPLE)
    report = repair_log(str(path))
    assert (report.problem, report.cut_bytes, report.backup_path) == (None, 0, None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.log", "events.log.lock"]


def test_a_frame_with_a_good_checksum_but_the_wrong_offset_is_corruption(
    tmp_path: Path,
) -> None:
    data, positions = log_bytes(list(SAMPLE[:5]))
    wrong = encode_frame(7, 1.0, "x.v1", {}, max_frame_bytes=DEFAULT_MAX_FRAME_BYTES)
    path = tmp_path / "events.log"
    path.write_bytes(data[: positions[2]] + wrong + data[positions[3] :])
    with pytest.raises(CorruptLogError, match="offset 7 where 3 was expected"):
        read_log(path)
    # Even as the very last frame: a whole frame with the wrong offset is not a torn write.
    path.write_bytes(data[: positions[2]] + wrong)
    with pytest.raises(CorruptLogError):
        read_log(path)


def test_a_length_over_the_cap_is_corruption_and_read_before_the_payload(
    tmp_path: Path,
) -> None:
    path = tmp_path / "events.log"
    write_log(path, SAMPLE[:4])
    with path.open("ab") as file:
        file.write(struct.pack(">II", DEFAULT_MAX_FRAME_BYTES + 1, 0) + b"\x94")
    with pytest.raises(CorruptLogError, match="exceeds the cap"):
        read_log(path)


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
    # A log written with a bigger cap does not open under a smaller one.
    write_log(tmp_path / "big.log", [NewRecord(ts=1.0, name="big.v1", data={"t": "x" * 5000})])
    write_log(tmp_path / "big.log", SAMPLE[:1])
    with pytest.raises(CorruptLogError, match="exceeds the cap"):
        read_log(tmp_path / "big.log", max_frame_bytes=1024)


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


@given(records=st.lists(new_records, min_size=1, max_size=8), data=st.data())
def test_any_truncation_scans_to_the_whole_frame_prefix(
    records: list[NewRecord], data: st.DataObject
) -> None:
    log, positions = log_bytes(records)
    cut = data.draw(st.integers(HEADER_BYTES, len(log)), label="cut")
    result = scan_bytes(log[:cut])
    whole = sum(1 for end in positions[1:] if end <= cut)
    assert result.head == whole
    assert list(result.index) == positions[:whole]
    assert result.end == positions[whole]
    if cut == positions[whole]:
        assert result.problem is None
    else:
        assert result.problem is not None
        assert result.problem.kind == "torn"
        assert (result.problem.offset, result.problem.position) == (whole + 1, positions[whole])


@given(records=st.lists(new_records, min_size=2, max_size=8), data=st.data())
def test_any_damaged_byte_is_never_read_as_good_and_mid_log_damage_is_corruption(
    records: list[NewRecord], data: st.DataObject
) -> None:
    log, positions = log_bytes(records)
    at = data.draw(st.integers(HEADER_BYTES, len(log) - 1), label="at")
    flip = data.draw(st.integers(1, 255), label="flip")
    damaged = bytearray(log)
    damaged[at] ^= flip
    frame = sum(1 for start in positions[:-1] if start <= at)  # the damaged offset
    result = scan_bytes(bytes(damaged))
    assert result.head == frame - 1
    assert result.problem is not None
    assert (result.problem.offset, result.problem.position) == (frame, positions[frame - 1])
    if frame < len(records):
        assert result.problem.kind == "corrupt"


def _frame_of(payload: bytes) -> bytes:
    length = struct.pack(">I", len(payload))
    return length + struct.pack(">I", frame_checksum(length, payload)) + payload


def test_a_checksummed_frame_that_does_not_decode_is_corruption_on_replay(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Only a writer bug (or tampering) makes one: appends refuse what would
    # not decode. The open-time scan checks the offset prefix, not the whole
    # payload; replaying (which the server does right after open) and
    # `chat-log verify` decode every frame and name it.
    data, positions = log_bytes(list(SAMPLE[:5]))
    bad = _frame_of(b"\x94\x03\xc1\xc1\xc1\xc1")  # 0xc1 is never used by msgpack
    path = tmp_path / "events.log"
    path.write_bytes(data[: positions[2]] + bad + data[positions[3] :])

    async def scenario() -> None:
        async with await FileEventLog.open(path, fsync=FsyncPolicy.NONE) as log:
            records = log.iter_from(0)
            assert [next(records).offset for _ in range(2)] == [1, 2]
            with pytest.raises(CorruptLogError, match="offset 3") as caught:
                next(records)
            assert caught.value.position == positions[2]
            with pytest.raises(CorruptLogError, match="undecodable"):
                log.read(3)

    asyncio.run(scenario())
    with LogReader(str(path)) as reader:
        reader.scan()
        assert reader.problem is None
        with pytest.raises(CorruptLogError, match="offset 3"):
            list(reader.records())
    assert cli_main(["verify", "--log", str(path)]) == 1
    assert f"offset 3 (byte position {positions[2]})" in capsys.readouterr().err


def test_the_open_time_scan_reports_its_progress(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "events.log"
    write_log(path, SAMPLE)
    monkeypatch.setattr(file_module, "SCAN_REPORT_EVERY_S", 0.0)  # every block
    with caplog.at_level(logging.INFO, logger="eventstore"):
        read_log(path)
    size = path.stat().st_size
    messages = [r.getMessage() for r in caplog.records]
    assert any(f"scanned_bytes={size} file_bytes={size}" in m for m in messages), messages
    assert any("log.opened" in m and "records=20" in m for m in messages)


def test_a_frame_damaged_while_the_log_is_open_is_refused_on_read(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    write_log(path, SAMPLE)
    position = frame_positions(path)[4]  # offset 5

    async def scenario() -> None:
        async with await FileEventLog.open(path, fsync=FsyncPolicy.NONE) as log:
            assert log.read(5) == as_stored(SAMPLE)[4]
            with path.open("r+b") as file:  # bit rot under a running server
                file.seek(position + 10)
                byte = file.read(1)
                file.seek(position + 10)
                file.write(bytes([byte[0] ^ 0x01]))
            with pytest.raises(CorruptLogError, match="checksum mismatch on read") as caught:
                log.read(5)
            assert (caught.value.offset, caught.value.position) == (5, position)
            assert log.read(6) == as_stored(SAMPLE)[5]

    asyncio.run(scenario())
