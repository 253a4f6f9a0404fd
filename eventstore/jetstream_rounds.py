"""Rounds as JetStream messages: their encoding, and the published rounds a replica holds.

How this works: one stream message carries one group-commit round. Its body
is the msgpack payloads of the round's records (`[offset, ts, name, data]`,
exactly as the file log frames them) back to back; its `Chat-Round` header
says `<first offset> <count>`. Offsets are dense across rounds; a round with
no records (the genesis, a writer's fence) takes none. The genesis (stream
sequence 1) carries the log id in `Chat-Log-Id`.

`RoundStore` keeps every published round's body as bytes (as compact as the
stream holds it) and decodes a round when one of its records is read, so a
replica's memory for the log is about the size of the stream.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Mapping
from typing import Final

import msgpack

from eventstore.errors import EventStoreError, OffsetOutOfRangeError
from eventstore.format import make_record
from eventstore.records import Record

ROUND_HEADER: Final = "Chat-Round"
LOG_ID_HEADER: Final = "Chat-Log-Id"


def round_header(first_offset: int, count: int) -> str:
    return f"{first_offset} {count}"


def parse_round_header(headers: Mapping[str, str] | None) -> tuple[int, int]:
    """(first offset, count) of a round message. Raises EventStoreError when missing."""
    raw = (headers or {}).get(ROUND_HEADER)
    parts = raw.split() if raw else []
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise EventStoreError(f"a stream message without a valid {ROUND_HEADER} header: {raw!r}")
    return int(parts[0]), int(parts[1])


def decode_round(body: bytes, first_offset: int, count: int) -> list[Record]:
    """The records of a round body. Raises EventStoreError when it does not hold them."""
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=True)
    unpacker.feed(body)
    records: list[Record] = []
    expected = first_offset
    try:
        for item in unpacker:
            offset, ts, name, data = item
            if offset != expected:
                raise EventStoreError(f"round from {first_offset}: offset {offset} out of order")
            records.append(make_record(offset, ts, name, data))
            expected += 1
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise EventStoreError(f"round from {first_offset} cannot be decoded: {exc}") from exc
    if len(records) != count:
        raise EventStoreError(f"round from {first_offset} holds {len(records)} of {count} records")
    return records


class RoundStore:
    """The published rounds with records, by first offset; records decoded on demand."""

    def __init__(self) -> None:
        self._firsts: list[int] = []
        self._bodies: list[bytes] = []
        self._counts: list[int] = []
        self._head = 0
        self._cached: tuple[int, list[Record]] = (-1, [])  # round index, its records
        self.size_bytes = 0

    @property
    def head(self) -> int:
        return self._head

    def add(self, first_offset: int, count: int, body: bytes) -> None:
        """Keep a published round (the next one: `first_offset` is head + 1)."""
        if count == 0:
            return
        if first_offset != self._head + 1:
            raise EventStoreError(
                f"round from {first_offset} does not follow the head {self._head}"
            )
        self._firsts.append(first_offset)
        self._bodies.append(body)
        self._counts.append(count)
        self._head = first_offset + count - 1
        self.size_bytes += len(body)

    def _records(self, index: int) -> list[Record]:
        cached_index, cached = self._cached
        if cached_index == index:
            return cached
        records = decode_round(self._bodies[index], self._firsts[index], self._counts[index])
        self._cached = (index, records)
        return records

    def read(self, offset: int) -> Record:
        """One record. Raises OffsetOutOfRangeError."""
        if not 1 <= offset <= self._head:
            raise OffsetOutOfRangeError(offset, self._head)
        index = bisect_right(self._firsts, offset) - 1
        return self._records(index)[offset - self._firsts[index]]

    def iter_range(self, first: int, last: int) -> Iterator[Record]:
        """Records with first <= offset <= last, in order."""
        if first > last or first > self._head:
            return
        index = max(bisect_right(self._firsts, first) - 1, 0)
        while index < len(self._firsts) and self._firsts[index] <= last:
            for record in self._records(index):
                if record.offset > last:
                    return
                if record.offset >= first:
                    yield record
            index += 1
