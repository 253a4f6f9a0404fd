"""Format 1 (one file of frames): torn writes and corruption for any cut or damaged byte."""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eventstore import (
    CorruptLogError,
    FileEventLog,
    FsyncPolicy,
    NewRecord,
)
from eventstore.cli import main as cli_main
from eventstore.format import (
    DEFAULT_MAX_FRAME_BYTES,
    HEADER_BYTES,
    encode_frame,
)
from eventstore.reader import LogReader

from .support import (
    SAMPLE,
    frame_of,
    log_bytes,
    new_records,
    read_log,
    scan_bytes,
    write_v1,
)


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
    write_v1(path, SAMPLE[:4])
    with path.open("ab") as file:
        file.write(struct.pack(">II", DEFAULT_MAX_FRAME_BYTES + 1, 0) + b"\x94")
    with pytest.raises(CorruptLogError, match="exceeds the cap"):
        read_log(path)


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


def test_a_checksummed_frame_that_does_not_decode_is_corruption_on_replay(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Only a writer bug (or tampering) makes one: appends refuse what would
    # not decode. The open-time scan checks the offset prefix, not the whole
    # payload; replaying (which the server does right after open) and
    # `chat-log verify` decode every frame and name it. The upgrade to format 2
    # copies payloads without decoding them, so the new log refuses it too.
    data, positions = log_bytes(list(SAMPLE[:5]))
    bad = frame_of(b"\x94\x03\xc1\xc1\xc1\xc1")  # 0xc1 is never used by msgpack
    path = tmp_path / "events.log"
    path.write_bytes(data[: positions[2]] + bad + data[positions[3] :])
    old = tmp_path / "old.log"
    old.write_bytes(path.read_bytes())

    async def scenario() -> None:
        async with await FileEventLog.open(path, fsync=FsyncPolicy.NONE) as log:
            records = log.iter_from(0)
            assert [next(records).offset for _ in range(2)] == [1, 2]
            with pytest.raises(CorruptLogError, match="offset 3"):
                next(records)
            with pytest.raises(CorruptLogError, match="undecodable"):
                log.read(3)

    asyncio.run(scenario())
    with LogReader(str(old)) as reader:
        reader.scan()
        assert reader.problem is None
        with pytest.raises(CorruptLogError, match="offset 3"):
            list(reader.records())
    assert cli_main(["verify", "--log", str(old)]) == 1
    assert f"offset 3 (byte position {positions[2]})" in capsys.readouterr().err
    assert cli_main(["verify", "--log", str(path)]) == 1
    assert "offset 3" in capsys.readouterr().err
