"""The segment codec: header, rounds, seal (trailer and sparse index), as properties."""

from __future__ import annotations

import itertools
import os
import tempfile
from array import array

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eventstore import EventStoreError, NewRecord
from eventstore.format import DEFAULT_MAX_FRAME_BYTES, encode_payload
from eventstore.opening import open_segment
from eventstore.recovery import scan_rounds
from eventstore.segment import iter_segment
from eventstore.segment_codec import (
    INDEX_EVERY_BYTES,
    ROUND_HEADER_BYTES,
    SEGMENT_HEADER_BYTES,
    TRAILER_BYTES,
    decode_index,
    decode_round_header,
    decode_segment_header,
    decode_trailer,
    encode_round,
    encode_seal,
    encode_segment_header,
    sparse_index,
)
from eventstore.segment_file import SegmentBuilder, create_segment

from .support import as_stored, new_records

offsets = st.integers(1, 2**63)


@given(
    log_id=st.binary(min_size=16, max_size=16),
    base=offsets,
    created=st.integers(0, 2**63),
    compacted=st.booleans(),
)
def test_a_segment_header_roundtrips(
    log_id: bytes, base: int, created: int, compacted: bool
) -> None:
    data = encode_segment_header(log_id, base_offset=base, created_ms=created, compacted=compacted)
    assert len(data) == SEGMENT_HEADER_BYTES
    header = decode_segment_header(data, path="x")
    assert (header.log_id, header.base_offset, header.created_ms, header.compacted) == (
        log_id.hex(),
        base,
        created,
        compacted,
    )


@given(at=st.integers(0, SEGMENT_HEADER_BYTES - 1), flip=st.integers(1, 255))
def test_any_damaged_segment_header_byte_is_refused(at: int, flip: int) -> None:
    data = bytearray(encode_segment_header(b"\x07" * 16, base_offset=5, created_ms=1))
    data[at] ^= flip
    with pytest.raises(EventStoreError):
        decode_segment_header(bytes(data), path="x")


@given(
    body=st.binary(max_size=300), count=st.integers(0, 2**32 - 1), first=offsets, durable=offsets
)
def test_a_round_header_roundtrips_and_any_damaged_byte_is_refused(
    body: bytes, count: int, first: int, durable: int
) -> None:
    data = encode_round(body, count=count, first_offset=first, durable_through=durable)
    header = decode_round_header(data)
    assert header is not None
    assert (header.body_bytes, header.count, header.first_offset, header.durable_through) == (
        len(body),
        count,
        first,
        durable,
    )
    assert data[ROUND_HEADER_BYTES:] == body
    for at in range(ROUND_HEADER_BYTES):
        damaged = bytearray(data)
        damaged[at] ^= 0x01
        assert decode_round_header(bytes(damaged)) is None


rounds_positions = st.lists(st.integers(1, 100_000), max_size=50).map(
    lambda gaps: [(n + 1, SEGMENT_HEADER_BYTES + sum(gaps[:n])) for n in range(len(gaps))]
)


@given(rounds=rounds_positions, data_crc=st.integers(0, 2**32 - 1), records=st.integers(0, 2**40))
def test_a_seal_roundtrips_and_its_sparse_index_is_a_spaced_subset(
    rounds: list[tuple[int, int]], data_crc: int, records: int
) -> None:
    index = sparse_index(rounds)
    assert set(index) <= set(rounds)
    assert index[:1] == rounds[:1]
    assert all(b[1] - a[1] >= INDEX_EVERY_BYTES for a, b in itertools.pairwise(index))
    seal = encode_seal(
        first_offset=1,
        last_offset=99,
        records=records,
        data_end=12345,
        data_crc=data_crc,
        index=index,
    )
    fields = decode_trailer(seal[-TRAILER_BYTES:])
    assert fields is not None
    first, last, count, data_end, entries, crc, index_crc = fields
    assert (first, last, count, data_end, entries, crc) == (
        1,
        99,
        records,
        12345,
        len(index),
        data_crc,
    )
    decoded = decode_index(seal[:-TRAILER_BYTES], index_crc)
    assert decoded is not None
    assert list(zip(decoded[0], decoded[1], strict=True)) == index
    for at in range(TRAILER_BYTES):
        damaged = bytearray(seal[-TRAILER_BYTES:])
        damaged[at] ^= 0x80
        assert decode_trailer(bytes(damaged)) is None


@given(
    batches=st.lists(st.lists(new_records, min_size=1, max_size=4), min_size=1, max_size=8),
    data=st.data(),
)
def test_a_built_segment_reads_back_from_any_offset_sealed_or_not(
    batches: list[list[NewRecord]], data: st.DataObject
) -> None:
    flat = as_stored([r for batch in batches for r in batch])
    with tempfile.TemporaryDirectory() as directory:
        builder = SegmentBuilder(create_segment(directory, "ab" * 16, 1))
        for record in flat:
            payload = encode_payload(
                record.offset,
                record.ts,
                record.name,
                record.data,
                max_frame_bytes=DEFAULT_MAX_FRAME_BYTES,
            )
            builder.add(record.offset, payload)
            if data.draw(st.booleans(), label="round ends here"):
                builder.flush_round()
        sealed = data.draw(st.booleans(), label="sealed")
        if sealed:
            builder.seal()
        else:
            builder.finish_active()
        builder.segment.close()
        path = os.path.join(directory, "00000000000000000001.seg")
        segment, fd, size = open_segment(path, writable=False)
        if segment is None:
            scan = scan_rounds(
                lambda n, at: os.pread(fd, n, at),
                start=SEGMENT_HEADER_BYTES,
                file_size=size,
                next_offset=1,
            )
            assert scan.problem is None
            assert scan.records == len(flat)
            os.close(fd)
            return
        try:
            assert segment.records == len(flat)
            assert (segment.base_offset, segment.last_offset) == (1, len(flat))
            first = data.draw(st.integers(1, len(flat)), label="first")
            last = data.draw(st.integers(first, len(flat)), label="last")
            assert (
                list(iter_segment(segment, first, last, segment.data_end)) == flat[first - 1 : last]
            )
            assert isinstance(segment.index_offsets, array)
        finally:
            segment.close()
