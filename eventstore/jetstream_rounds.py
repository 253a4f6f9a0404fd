"""Rounds as JetStream messages: their encoding, and the rounds a replica holds in memory.

How this works: one stream message carries one group-commit round. Its body
is the msgpack payloads of the round's records (`[offset, ts, name, data]`,
exactly as the file log frames them) back to back; its `Chat-Round` header
says `<first offset> <count>`. Offsets are dense across rounds; a round with
no records (the genesis, a writer's fence) takes none. The genesis (stream
sequence 1) carries the log id in `Chat-Log-Id`.

A replica does not keep the stream: `RoundWindow` holds the newest rounds
(their bodies, as compact as the stream holds them) up to a number of
bytes, and the older rounds a read fetched from the stream
(`jetstream_reads`) in a second, smaller store, least recently used first
out. Rounds are decoded when one of their records is read.
`SequenceMap` remembers where rounds are in the stream: a sparse, sorted
list of (first offset, stream sequence) points, about one per
`SPARSE_OFFSETS` offsets, so that an older offset is found with one batch
read instead of a search.
"""

from __future__ import annotations

import mmap
from array import array
from bisect import bisect_right
from collections.abc import Iterator, Mapping
from typing import Final

import msgpack
from attrs import frozen

from eventstore.errors import EventStoreError, NotLoadedError, OffsetOutOfRangeError
from eventstore.format import make_record
from eventstore.records import Record

ROUND_HEADER: Final = "Chat-Round"
LOG_ID_HEADER: Final = "Chat-Log-Id"
SPARSE_OFFSETS: Final = 256  # offsets between two points of the sequence map, at least
ROUND_OVERHEAD_BYTES: Final = 120  # what a held round costs besides its body (objects, lists)


def round_header(first_offset: int, count: int) -> str:
    return f"{first_offset} {count}"


def parse_round_header(headers: Mapping[str, str] | None) -> tuple[int, int]:
    """(first offset, count) of a round message. Raises EventStoreError when missing."""
    raw = (headers or {}).get(ROUND_HEADER)
    parts = raw.split() if raw else []
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise EventStoreError(f"a stream message without a valid {ROUND_HEADER} header: {raw!r}")
    return int(parts[0]), int(parts[1])


def decode_round(body: bytes | memoryview, first_offset: int, count: int) -> list[Record]:
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


@frozen
class StreamRound:
    """One round message: its records' offsets, its body and where it is in the stream."""

    first: int
    count: int
    body: bytes | memoryview  # a view into a window's buffer while the window holds it
    seq: int

    @property
    def last(self) -> int:
        return self.first + self.count - 1

    @property
    def size(self) -> int:
        return len(self.body) + ROUND_OVERHEAD_BYTES

    def records(self) -> list[Record]:
        """Its records, decoded. Raises EventStoreError when the body does not hold them."""
        return decode_round(self.body, self.first, self.count)


def _first_of(round_: StreamRound) -> int:
    return round_.first


class RoundWindow:
    """The newest rounds (up to `max_bytes`) and the older ones reads fetched (`fetched_bytes`).

    The newest rounds' bodies are copied into one buffer of `max_bytes`
    (anonymous memory, touched as it fills), the oldest overwritten first:
    rounds coming and going leave no holes in the heap, so what the window
    takes stays what it is set to. A body larger than half the buffer is
    kept as it came.
    """

    def __init__(self, max_bytes: int, *, fetched_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._fetched_max = fetched_bytes
        self._buffer = mmap.mmap(-1, max_bytes)
        self._view = memoryview(self._buffer)
        self._write = 0  # where the next body goes in the buffer
        self._rounds: list[StreamRound] = []  # the window: from index _start on, in order
        self._positions: list[int] = []  # where each is in the buffer (-1: kept as it came)
        self._start = 0
        self.size_bytes = 0
        self._head = 0
        self._fetched: dict[int, StreamRound] = {}  # by first offset, least recently used first
        self._fetched_firsts: list[int] = []  # sorted
        self.fetched_size_bytes = 0
        self._cached: tuple[StreamRound | None, list[Record]] = (None, [])

    @property
    def head(self) -> int:
        return self._head

    @property
    def first_offset(self) -> int:
        """The first offset the window holds (head + 1 when it holds none)."""
        if self._start < len(self._rounds):
            return self._rounds[self._start].first
        return self._head + 1

    def reset(self, head: int) -> None:
        """Hold nothing, with `head` as the last offset before the window."""
        self._rounds, self._positions, self._start, self._write = [], [], 0, 0
        self.size_bytes, self._head = 0, head
        self._fetched.clear()
        self._fetched_firsts.clear()
        self.fetched_size_bytes = 0
        self._cached = (None, [])

    def add(self, round_: StreamRound) -> list[Record]:
        """Keep a round (the newest) and drop the oldest past the bound; return its records.

        Raises EventStoreError when its body does not hold its records.
        """
        records = decode_round(round_.body, round_.first, round_.count)
        length = len(round_.body)
        position = -1
        if length <= self.max_bytes // 2:
            position = self._make_room(length)
            end = position + length
            self._view[position:end] = round_.body
            self._write = end
            round_ = StreamRound(round_.first, round_.count, self._view[position:end], round_.seq)
        self._rounds.append(round_)
        self._positions.append(position)
        self.size_bytes += round_.size
        self._head = round_.last
        self._cached = (round_, records)
        while self.size_bytes > self.max_bytes and len(self._rounds) - self._start > 1:
            self._drop_oldest()
        if self._start > 64 and 2 * self._start > len(self._rounds):
            del self._rounds[: self._start]
            del self._positions[: self._start]
            self._start = 0
        return records

    def _make_room(self, length: int) -> int:
        """Where in the buffer a body of `length` goes, once the rounds there are dropped."""
        position, lap_end = self._write, self.max_bytes
        if position + length > self.max_bytes:  # wrap: the rest of the last lap goes first
            lap_end, position = position, 0
        while self._start < len(self._rounds):
            held = self._positions[self._start]
            held_end = held + len(self._rounds[self._start].body)
            overlaps = held < position + length and position < held_end
            if held < 0 or held >= lap_end or overlaps:
                self._drop_oldest()
            else:
                break
        return position

    def _drop_oldest(self) -> None:
        self.size_bytes -= self._rounds[self._start].size
        self._start += 1

    def find(self, offset: int) -> StreamRound | None:
        """The held round with `offset`, or None."""
        index = bisect_right(self._rounds, offset, lo=self._start, key=_first_of) - 1
        if index >= self._start and offset <= self._rounds[index].last:
            return self._rounds[index]
        index = bisect_right(self._fetched_firsts, offset) - 1
        if index >= 0:
            found = self._fetched[self._fetched_firsts[index]]
            if offset <= found.last:
                return found
        return None

    def missing(self, first: int, last: int) -> int | None:
        """The first offset of first..last that no held round has, or None."""
        offset = first
        while offset <= last:
            found = self.find(offset)
            if found is None:
                return offset
            offset = found.last + 1
        return None

    def remember(self, rounds: list[StreamRound]) -> None:
        """Keep rounds a read fetched; the least recently used others go past the bound."""
        for round_ in rounds:
            if round_.first in self._fetched:
                self._fetched[round_.first] = self._fetched.pop(round_.first)
                continue
            self._fetched[round_.first] = round_
            self.fetched_size_bytes += round_.size
            index = bisect_right(self._fetched_firsts, round_.first)
            self._fetched_firsts.insert(index, round_.first)
        keep = {round_.first for round_ in rounds}
        for first in list(self._fetched):
            if self.fetched_size_bytes <= self._fetched_max:
                break
            if first in keep:
                continue
            self.fetched_size_bytes -= self._fetched.pop(first).size
            del self._fetched_firsts[bisect_right(self._fetched_firsts, first) - 1]

    def _records(self, round_: StreamRound) -> list[Record]:
        cached_round, cached = self._cached
        if cached_round is round_:
            return cached
        records = decode_round(round_.body, round_.first, round_.count)
        self._cached = (round_, records)
        return records

    def read(self, offset: int) -> Record:
        """One record. Raises OffsetOutOfRangeError past the head, NotLoadedError."""
        if not 1 <= offset <= self._head:
            raise OffsetOutOfRangeError(offset, self._head)
        found = self.find(offset)
        if found is None:
            raise NotLoadedError(offset)
        return self._records(found)[offset - found.first]

    def iter_range(self, first: int, last: int) -> Iterator[Record]:
        """Records with first <= offset <= last, in order.

        Raises NotLoadedError (while iterating) at an offset no held round has.
        """
        offset = first
        while offset <= min(last, self._head):
            found = self.find(offset)
            if found is None:
                raise NotLoadedError(offset)
            for record in self._records(found)[offset - found.first :]:
                if record.offset > last:
                    return
                yield record
            offset = found.last + 1


class SequenceMap:
    """Where offsets are in the stream: sparse (first offset, sequence) points, sorted.

    A point (o, s) says that every offset below o is in a message before
    sequence s and every offset from o on at s or after (true of a round
    starting at o and of a fence before o alike).
    """

    def __init__(self) -> None:
        self._offsets = array("q")
        self._seqs = array("q")

    def __len__(self) -> int:
        return len(self._offsets)

    def note(self, first: int, seq: int) -> None:
        """Remember a round (or fence) at `seq` starting at `first`, unless a point is near."""
        index = bisect_right(self._offsets, first)
        if index and first - self._offsets[index - 1] < SPARSE_OFFSETS:
            return
        if index < len(self._offsets) and self._offsets[index] - first < SPARSE_OFFSETS // 2:
            return
        self._offsets.insert(index, first)
        self._seqs.insert(index, seq)

    def bounds(self, offset: int) -> tuple[int | None, int | None]:
        """(a sequence at or before the message with `offset`, one after it), each if known."""
        index = bisect_right(self._offsets, offset)
        low = self._seqs[index - 1] if index else None
        high = self._seqs[index] if index < len(self._seqs) else None
        return low, high
