"""Records and small helpers shared by the event store tests."""

from __future__ import annotations

import asyncio
import errno
import os
import struct
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from eventstore import FileEventLog, FsyncPolicy, NewRecord, Record
from eventstore.format import (
    DEFAULT_MAX_FRAME_BYTES,
    HEADER_BYTES,
    PRead,
    encode_frame,
    encode_header,
    frame_checksum,
)
from eventstore.legacy import ScanResult, scan_log
from eventstore.segment_codec import (
    ROUND_HEADER_BYTES,
    SEGMENT_HEADER_BYTES,
    decode_round_header,
)

# Twenty records of every shape the domain writes: text in several scripts,
# secrets, bytes, lists, nested maps, big and negative numbers, empty data.
SAMPLE: tuple[NewRecord, ...] = (
    NewRecord(
        ts=1_700_000_000.0,
        name="user.registered.v1",
        data={"user": "alice", "password_hash": "scrypt$" + "ab" * 32, "salt": b"\x00\x01" * 8},
    ),
    NewRecord(
        ts=1_700_000_001.5, name="session.opened.v1", data={"user": "alice", "token_hash": "f" * 64}
    ),
    NewRecord(ts=1_700_000_002, name="room.created.v1", data={"room": "general", "owner": "alice"}),
    NewRecord(
        ts=1_700_000_003.25,
        name="message.sent.v1",
        data={"room": "general", "author": "alice", "text": "hello"},
    ),
    NewRecord(
        ts=1_700_000_004.0,
        name="message.sent.v1",
        data={"room": "general", "author": "борис", "text": "привет, мир 👋"},
    ),
    NewRecord(ts=1_700_000_005.0, name="heartbeat.v1"),
    NewRecord(
        ts=1_700_000_006.0,
        name="room.created.v1",
        data={"room": "r-1", "owner": "bob", "members": ["bob", "alice", "борис"]},
    ),
    NewRecord(
        ts=1_700_000_007.0,
        name="file.attached.v1",
        data={
            "room": "r-1",
            "author": "bob",
            "file": {"name": "a.txt", "size": 5 * 1024 * 1024, "sha256": "0" * 64},
        },
    ),
    NewRecord(
        ts=1_700_000_008.0,
        name="cursor.moved.v1",
        data={"user": "alice", "offset": 2**40, "delta": -17, "ratio": 0.125},
    ),
    NewRecord(
        ts=1_700_000_009.0,
        name="message.scheduled.v1",
        data={"author": "alice", "to": "bob", "send_at": 1_700_000_100.0, "text": "later"},
    ),
    NewRecord(
        ts=1_700_000_010.0, name="report.filed.v1", data={"reporter": "bob", "target": "mallory"}
    ),
    NewRecord(ts=1_700_000_011.0, name="ban.imposed.v1", data={"user": "mallory", "until": None}),
    NewRecord(
        ts=1_700_000_012.0,
        name="message.sent.v1",
        data={"room": "general", "author": "carol", "text": "x" * 150},
    ),
    NewRecord(
        ts=1_700_000_013.0,
        name="room.member_joined.v1",
        data={"room": "r-1", "user": "dave", "by": "carol", "on": True, "off": False, "x": ""},
    ),
    NewRecord(
        ts=1_700_000_014.0,
        name="link.created.v1",
        data={"room": "r-1", "owner": "bob", "token_hash": "1234567890abcdef" * 4},
    ),
    NewRecord(ts=1_700_000_015.0, name="blob.v1", data={"bytes": bytes(range(0, 256, 4))}),
    NewRecord(
        ts=1_700_000_016.0,
        name="message.sent.v1",
        data={"to": "alice", "author": "bob", "text": "direct"},
    ),
    NewRecord(ts=1_700_000_017.0, name="nested.v1", data={"a": {"b": {"c": [1, [2, [3]]]}}}),
    NewRecord(ts=1_700_000_018.0, name="session.closed.v1", data={"user": "alice"}),
    NewRecord(
        ts=1_700_000_019.0,
        name="message.sent.v1",
        data={"room": "r-1", "author": "alice", "text": "bye"},
    ),
)

# msgpack-compatible data as the domain produces it (str keys, no tuples).
json_like = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
    | st.binary(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
new_records = st.builds(
    NewRecord,
    ts=st.floats(min_value=0, max_value=4e9, allow_nan=False),
    name=st.text(min_size=1, max_size=24),
    data=st.dictionaries(st.text(max_size=10), json_like, max_size=5),
)


def as_stored(records: Sequence[NewRecord], first_offset: int = 1) -> list[Record]:
    """What the log should hold for `records` appended from `first_offset` on."""
    return [
        Record(offset=first_offset + i, ts=r.ts, name=r.name, data=dict(r.data))
        for i, r in enumerate(records)
    ]


def write_log(path: Path, records: Sequence[NewRecord], *, batch: int = 1, **options: Any) -> str:
    """Write `records` to a new log (in batches of `batch`); return its log id."""

    async def scenario() -> str:
        async with await FileEventLog.open(path, fsync=FsyncPolicy.NONE, **options) as log:
            for start in range(0, len(records), batch):
                await log.append(records[start : start + batch])
            return log.log_id

    return asyncio.run(scenario())


def read_log(path: Path, **options: Any) -> tuple[str, list[Record]]:
    """Open the log (recovering it) and return its id and every record."""

    async def scenario() -> tuple[str, list[Record]]:
        async with await FileEventLog.open(path, fsync=FsyncPolicy.NONE, **options) as log:
            return log.log_id, list(log.iter_from(0))

    return asyncio.run(scenario())


def frame_positions(path: Path) -> list[int]:
    """The start of every frame in a valid format-1 file, and the end of the last one."""
    data = path.read_bytes()
    positions = [HEADER_BYTES]
    while positions[-1] < len(data):
        length = int.from_bytes(data[positions[-1] : positions[-1] + 4], "big")
        positions.append(positions[-1] + 8 + length)
    assert positions[-1] == len(data)
    return positions


def segment_paths(log: Path) -> list[Path]:
    """The segment files of a log directory, oldest first."""
    return sorted(log.glob("*.seg"))


def active_segment(log: Path) -> Path:
    """The newest segment file of a log directory."""
    return segment_paths(log)[-1]


def rounds_of(segment: Path) -> list[tuple[int, int, int]]:
    """(position, first offset, record count) of every round in a segment, and its data end.

    The last tuple is (data end, next offset, 0).
    """
    data = segment.read_bytes()
    found = []
    position = SEGMENT_HEADER_BYTES
    while position + ROUND_HEADER_BYTES <= len(data):
        header = decode_round_header(data, position)
        if header is None:
            break
        found.append((position, header.first_offset, header.count))
        position += ROUND_HEADER_BYTES + header.body_bytes
    next_offset = found[-1][1] + found[-1][2] if found else 1
    return [*found, (position, next_offset, 0)]


def record_round(log: Path, offset: int) -> int:
    """The position of the round holding `offset` in the active segment of `log`."""
    for position, first, count in rounds_of(active_segment(log)):
        if first <= offset < first + count:
            return position
    raise AssertionError(f"no round holds offset {offset}")


def write_v1(path: Path, records: Sequence[NewRecord]) -> tuple[bytes, list[int]]:
    """Write a format-1 log file (one frame per record); return its bytes and frame starts."""
    data, positions = log_bytes(list(records))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data, positions


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


def frame_of(payload: bytes) -> bytes:
    length = struct.pack(">I", len(payload))
    return length + struct.pack(">I", frame_checksum(length, payload)) + payload


class CountingSync:
    """An fdatasync that counts its calls and can be told to fail or to hold."""

    def __init__(self, *, fail_after: int | None = None) -> None:
        self.calls = 0
        self.fail_after = fail_after
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, fd: int) -> None:
        self.gate.wait(timeout=10)
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise OSError(errno.EIO, "injected fdatasync failure")
        os.fdatasync(fd)


def record(n: int) -> NewRecord:
    return NewRecord(
        ts=1_700_000_000.0 + n, name="message.sent.v1", data={"n": n, "text": "t" * (n % 50)}
    )
