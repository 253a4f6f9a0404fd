"""The header and frame codec: properties, and what the log refuses to write."""

from __future__ import annotations

import asyncio
from array import array
from pathlib import Path
from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from eventstore import (
    EventStoreError,
    FileEventLog,
    FsyncPolicy,
    LogFailedError,
    NewRecord,
    NotAnEventLogError,
    Record,
)
from eventstore.format import (
    DEFAULT_MAX_FRAME_BYTES,
    FRAME_HEADER,
    FRAME_HEADER_BYTES,
    HEADER_BYTES,
    decode_header,
    decode_payload,
    encode_frame,
    encode_header,
    frame_checksum,
    iter_decoded,
    make_record,
)
from eventstore.legacy import payload_offset
from eventstore.segment_codec import decode_segment_header

from .support import SAMPLE, active_segment, as_stored, new_records, read_log


@given(log_id=st.binary(min_size=16, max_size=16))
def test_a_header_roundtrips_its_log_id(log_id: bytes) -> None:
    header = encode_header(log_id)
    assert len(header) == HEADER_BYTES
    assert decode_header(header, path="x") == log_id.hex()


@given(log_id=st.binary(min_size=16, max_size=16), at=st.integers(0, HEADER_BYTES - 1))
def test_any_damaged_header_byte_is_refused(log_id: bytes, at: int) -> None:
    header = bytearray(encode_header(log_id))
    header[at] ^= 0x01
    with pytest.raises(EventStoreError):
        decode_header(bytes(header), path="x")


@given(record=new_records, offset=st.integers(1, 2**63))
def test_a_frame_roundtrips_and_carries_its_checksum(record: NewRecord, offset: int) -> None:
    frame = encode_frame(
        offset, record.ts, record.name, record.data, max_frame_bytes=DEFAULT_MAX_FRAME_BYTES
    )
    length, crc = FRAME_HEADER.unpack_from(frame)
    payload = frame[FRAME_HEADER_BYTES:]
    assert length == len(payload)
    assert frame_checksum(frame, payload) == crc
    assert payload_offset(payload) == offset
    decoded = decode_payload(payload, path="x", expected_offset=offset, position=0)
    assert decoded == Record(offset=offset, ts=record.ts, name=record.name, data=record.data)


@given(offset=st.integers(0, 2**64 - 1))
def test_the_offset_is_read_without_decoding_for_every_integer_width(offset: int) -> None:
    payload = msgpack.packb([offset, 1.0, "n", {}])
    assert payload_offset(payload) == offset


def test_the_fast_record_constructor_builds_real_records() -> None:
    made = make_record(3, 1.5, "a.v1", {"k": [1]})
    assert made == Record(offset=3, ts=1.5, name="a.v1", data={"k": [1]})
    assert repr(made) == "Record(offset=3, ts=1.5, name='a.v1', data={'k': [1]})"
    with pytest.raises(AttributeError):
        made.offset = 4  # type: ignore[misc]


@pytest.mark.parametrize(
    ("ts", "name", "data"),
    [
        (1.0, "int.key.v1", {"nested": {1: "one"}}),
        (1.0, "tuple.key.v1", {"nested": {(1, 2): "pair"}}),
        (1.0, "set.value.v1", {"tags": {"a", "b"}}),
        (1.0, "huge.int.v1", {"n": 2**70}),
        ("yesterday", "bad.ts.v1", {}),
    ],
)
def test_a_record_that_would_not_read_back_is_refused_before_it_gets_an_offset(
    tmp_path: Path, ts: Any, name: str, data: dict[Any, Any]
) -> None:
    path = tmp_path / "events.log"

    async def scenario() -> None:
        async with await FileEventLog.open(path, fsync=FsyncPolicy.NONE) as log:
            await log.append(SAMPLE[:2])
            with pytest.raises(EventStoreError, match=name):
                log.append_nowait([SAMPLE[2], NewRecord(ts=ts, name=name, data=data)])
            assert log.head == 2
            await log.append(SAMPLE[2:3])

    asyncio.run(scenario())
    assert read_log(path)[1] == as_stored(SAMPLE[:3])


def test_a_bug_in_the_write_path_is_fatal_not_a_hang(tmp_path: Path) -> None:
    def broken(fd: int, data: bytes | memoryview, position: int) -> int:
        raise RuntimeError("a bug")

    async def scenario() -> None:
        async with await FileEventLog.open(tmp_path / "events.log", pwrite=broken) as log:
            async with asyncio.timeout(10):
                with pytest.raises(LogFailedError, match="a bug"):
                    await log.append(SAMPLE[:1])

    asyncio.run(scenario())


def test_the_header_records_a_fresh_random_id_per_log(tmp_path: Path) -> None:
    ids = set()
    for n in range(3):
        path = tmp_path / f"{n}.log"
        ids.add(read_log(path)[0])
        header = decode_segment_header(active_segment(path).read_bytes(), path=str(path))
        assert header.log_id in ids
    assert len(ids) == 3
    with pytest.raises(NotAnEventLogError):
        decode_header(b"CHATLOG\0", path="short")


@given(
    records=st.lists(new_records, min_size=1, max_size=12),
    block_bytes=st.integers(1, 600),
    data=st.data(),
)
def test_any_block_size_and_range_decodes_the_same_records(
    records: list[NewRecord], block_bytes: int, data: st.DataObject
) -> None:
    frames = [
        encode_frame(n, r.ts, r.name, r.data, max_frame_bytes=DEFAULT_MAX_FRAME_BYTES)
        for n, r in enumerate(records, start=1)
    ]
    log = encode_header(b"\x02" * 16) + b"".join(frames)
    index: array[int] = array("Q")
    position = HEADER_BYTES
    for frame in frames:
        index.append(position)
        position += len(frame)
    first = data.draw(st.integers(1, len(records)), label="first")
    last = data.draw(st.integers(first, len(records)), label="last")

    def pread(size: int, at: int) -> bytes:
        return log[at : at + size]

    decoded = list(
        iter_decoded(
            pread,
            index,
            first=first,
            last=last,
            end_position=len(log),
            path="x",
            block_bytes=block_bytes,
        )
    )
    assert decoded == as_stored(records)[first - 1 : last]
