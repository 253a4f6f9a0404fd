"""Scanning the rounds of a segment, and telling an unacknowledged tail from corruption.

How this works
--------------
`scan_rounds` walks the rounds of a segment from a position: each round's
header must be whole with a good checksum, carry the next offset, and its
body must be whole with a good checksum. It returns where the good rounds
end, the start of every good round (the segment's round index), and the
first problem.

A power cut during a round's write can leave any subset of that round's
pages on disk, in any order (a hole of zeros, then later pages; a page torn
at a sector boundary; the file size updated or not). That round was not
acknowledged: under the `always` policy a round is acknowledged only after
its fsync, and the next round is written only after that. So `classify_tail`
asks the bytes after the last good round one question: does any whole,
checksummed round header there claim (in its `durable through` field) that
the round at the break was already durable?

- No: everything after the break was never known durable. It is the
  unacknowledged tail: cut automatically (kept in a ``.torn-<position>`` file
  beside the segment) and logged with what was cut.
- Yes: a later round was written after the broken one was fsynced, so the
  broken bytes held acknowledged data: corruption. The log refuses to open
  and a human decides (`chat-log verify`, `chat-log repair`).

The writer adds an empty round with the claim after the final fsync at
close, so a cleanly closed log protects its last round too. Under
`interval` a round is acknowledged once written and claimed durable only
after the next fsync, so a power cut can lose the acknowledged rounds since
the last fsync: that is what `interval` trades for speed. Under `none` the
claim comes only at close.
"""

from __future__ import annotations

import zlib
from array import array
from collections.abc import Callable
from typing import Final, Literal

import attrs
import msgpack
from attrs import frozen

from eventstore.format import READ_BLOCK_BYTES, PRead, read_exact
from eventstore.segment_codec import (
    MAX_ROUND_BODY_BYTES,
    ROUND_HEADER,
    ROUND_HEADER_BYTES,
    ROUND_MAGIC,
    decode_round_header,
)

# (bytes scanned so far, bytes to scan) -> None
Progress = Callable[[int, int], None]
_HEADER_CRC_SPAN: Final = ROUND_HEADER_BYTES - 4


@frozen(kw_only=True)
class Problem:
    """Where the good rounds stop, the offset expected there, and why."""

    kind: Literal["torn", "corrupt"]
    offset: int  # the offset the broken round should start with
    position: int  # its first byte
    reason: str
    path: str = ""  # the segment file it is in, when known
    seal_only: bool = False  # the rounds are whole; only the seal is missing or damaged


@frozen(kw_only=True)
class RoundScan:
    """The good rounds of a segment and what stopped the scan."""

    end: int  # just after the last good round
    next_offset: int  # the offset the next round must start with
    round_offsets: array[int]  # first offset of every good round with records
    round_positions: array[int]  # ... and its position
    records: int
    data_crc: int  # crc32 of every byte of the good rounds
    problem: Problem | None


def scan_rounds(
    pread: PRead,
    *,
    start: int,
    file_size: int,
    next_offset: int,
    dense: bool = True,
    progress: Progress | None = None,
) -> RoundScan:
    """Check every round from `start`; a broken one ends the scan (see `classify_tail`).

    `dense`: rounds must start exactly at the next offset (a compacted
    segment only needs them to grow, and each round's last record is
    decoded to know where the next may start). Raises what `pread` raises.
    """
    offsets: array[int] = array("Q")
    positions: array[int] = array("Q")
    add_offset, add_position = offsets.append, positions.append
    unpack = ROUND_HEADER.unpack_from
    crc32 = zlib.crc32
    records = 0
    data_crc = 0
    position = start
    reason = ""
    while position < file_size:
        block = pread(min(READ_BLOCK_BYTES, file_size - position), position)
        view = memoryview(block)
        size = len(block)
        i = 0
        stop = False
        while i + ROUND_HEADER_BYTES <= size:
            magic, body_bytes, count, body_crc, first, _durable, crc = unpack(block, i)
            if magic != ROUND_MAGIC or crc32(view[i : i + _HEADER_CRC_SPAN]) != crc:
                reason, stop = "no whole round header here", True
                break
            if body_bytes > MAX_ROUND_BODY_BYTES:
                reason, stop = f"round body of {body_bytes} bytes exceeds the cap", True
                break
            if first != next_offset if dense else first < next_offset:
                reason = f"round starts at offset {first} where {next_offset} was expected"
                stop = True
                break
            body_at = i + ROUND_HEADER_BYTES
            end = body_at + body_bytes
            if end <= size:
                body: bytes | memoryview = view[body_at:end]
            elif i:
                break  # read on from this round's start
            elif position + end > file_size:
                reason, stop = "the round runs past the end of the file", True
                break
            else:  # a round larger than a block
                body = read_exact(pread, body_bytes, position + body_at, path="")
                if crc32(body) == body_crc:
                    data_crc = crc32(body, crc32(view[:body_at], data_crc))
            if crc32(body) != body_crc:
                reason, stop = "round body checksum mismatch", True
                break
            if count:
                # A compacted round has holes: its last offset is in its last record.
                last = first + count - 1 if dense else _last_offset(body)
                if last is None or last < first:
                    reason, stop = "a compacted round whose records do not decode", True
                    break
                add_offset(first)
                add_position(position + i)
                records += count
                next_offset = last + 1
            i = end
        if i <= size:
            data_crc = crc32(view[:i], data_crc)
        view.release()
        if i == 0 and not stop:
            reason, stop = "a short round header at the end of the file", True
        position += i
        if progress is not None:
            progress(position, file_size)
        if stop:
            break
    problem = None
    if position < file_size:
        problem = Problem(
            kind="torn",
            offset=next_offset,
            position=position,
            reason=reason or "a broken round",
        )
    return RoundScan(
        end=position,
        next_offset=next_offset,
        round_offsets=offsets,
        round_positions=positions,
        records=records,
        data_crc=data_crc,
        problem=problem,
    )


def _last_offset(body: bytes | memoryview) -> int | None:
    """The offset of the last record in a round's body (None when it does not decode)."""
    unpacker = msgpack.Unpacker(max_buffer_size=MAX_ROUND_BODY_BYTES)
    unpacker.feed(body)
    last = None
    try:
        for item in unpacker:
            last = item[0]
    except (ValueError, TypeError, IndexError, KeyError, msgpack.UnpackException):
        return None
    return last if type(last) is int else None


def classify_tail(pread: PRead, *, problem: Problem, file_size: int) -> Problem:
    """Decide whether the bytes after the good rounds are an unacknowledged tail.

    Returns the problem as `torn` (cut it) or `corrupt` (refuse), with the
    reason. Raises what `pread` raises.
    """
    start = problem.position
    tail = read_exact(pread, file_size - start, start, path="segment")
    if not tail.strip(b"\0"):
        return _with(problem, "torn", f"{len(tail)} zero bytes after the last whole round")
    hit = tail.find(ROUND_MAGIC)
    while hit >= 0:
        header = decode_round_header(tail, hit)
        if (
            header is not None
            and header.first_offset >= problem.offset
            and header.durable_through >= problem.offset
        ):
            return _with(
                problem,
                "corrupt",
                f"{problem.reason}; a later round (offset {header.first_offset}, at byte "
                f"{start + hit}) was written after offset {problem.offset} was durable",
            )
        hit = tail.find(ROUND_MAGIC, hit + 1)
    return _with(
        problem,
        "torn",
        f"{problem.reason}; the {len(tail)} bytes after it were never acknowledged "
        "(an interrupted last round)",
    )


def _with(problem: Problem, kind: Literal["torn", "corrupt"], reason: str) -> Problem:
    return attrs.evolve(problem, kind=kind, reason=reason)
