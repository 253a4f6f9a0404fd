"""Format 1 (one file of frames): scanning it, the torn tail, corruption.

How this works
--------------
`scan_frames` walks the frames from a position to the end of the file,
checking each frame's length against the cap, its checksum, and that it
carries the next offset, and records each frame's position in the index.
It reads blocks of a megabyte and handles the frames of a block in one tight
loop; a frame that does not fit the block (or fails a check) goes to the
slow path, `_examine`, which decides what it is.

A bad frame is a **torn write** (expected after a crash; the writer cuts it
off and goes on) when it is the last thing in the file:

- fewer than 8 header bytes are left;
- its length is within the cap but runs past the end of the file;
- it ends exactly at the end of the file but its checksum is wrong (the
  length got to disk, part of the payload did not);
- everything from its first byte to the end of the file is zero (some file
  systems leave zero-filled blocks after a crash).

The second and third cases also require that no whole frame carrying the
next offset starts inside the bad frame: if one does, the bad frame's length
was damaged in the middle of the log, and cutting there would lose data.

Anything else is **corruption**: a bad checksum with more bytes after it, a
length over the cap, or a frame whose checksum is right but whose payload
does not carry the expected offset. Data after a bad frame cannot be
trusted to start at a frame boundary, so the log refuses to open and a human
decides (`chat-log verify`, then `chat-log repair`, which keeps a backup).

The scan reads the offset at the start of each payload but does not decode
the rest (that would double the cost of opening): appends refuse a record
that would not decode again, so a frame with a good checksum and a payload
that does not decode can only come from a bug or tampering. Replay (which
the server runs right after opening), `read` and `chat-log verify` decode
every payload and raise CorruptLogError naming it.

Power loss can leave the pages of the last, unsynced round on disk out of
order (a hole of zeros, then later pages): that reads as corruption, not as
a torn tail, and needs `chat-log repair`. Nothing acknowledged is lost
there: the round was never fsynced.
"""

from __future__ import annotations

import struct
import zlib
from array import array
from collections.abc import Callable
from typing import Final, Literal

import msgpack
from attrs import frozen

from eventstore.format import (
    DEFAULT_MAX_FRAME_BYTES,
    FRAME_HEADER,
    FRAME_HEADER_BYTES,
    HEADER_BYTES,
    READ_BLOCK_BYTES,
    PRead,
    decode_header,
    frame_checksum,
    read_exact,
)

_U8: Final = 0xCC
_U16: Final = 0xCD
_U32: Final = 0xCE
_U64: Final = 0xCF
_ARRAY4: Final = 0x94
_WIDTH: Final = {_U8: 1, _U16: 2, _U32: 4, _U64: 8}
# frame length, crc, then the payload's first 6 bytes: array marker, u32 tag, offset.
_FRAME_AND_OFFSET: Final = struct.Struct(">IIBBI")
_FRAME_AND_OFFSET_BYTES: Final = _FRAME_AND_OFFSET.size
# The smallest payload the hot loop reads 6 bytes of; anything shorter takes
# the slow path (a real payload is never this short: offset, ts, name, data).
_MIN_PAYLOAD_BYTES: Final = 6
# Frames of a log have a few hundred distinct lengths: the crc of the length
# bytes is looked up rather than computed (about 10% of the scan).
_LENGTH_CRC_CACHE: Final = 4096

# (bytes scanned so far, file size) -> None
Progress = Callable[[int, int], None]


@frozen(kw_only=True)
class Problem:
    """A bad frame: where it is, what it should have been, and why it is bad."""

    kind: Literal["torn", "corrupt"]
    offset: int  # the offset the bad frame should carry
    position: int  # its first byte
    reason: str


@frozen(kw_only=True)
class ScanResult:
    """What a scan found: the index of good frames and the first problem, if any."""

    log_id: str
    index: array[int]
    end: int  # the position just after the last good frame
    file_size: int
    problem: Problem | None

    @property
    def head(self) -> int:
        return len(self.index)


def payload_offset(payload: bytes) -> int | None:
    """The offset a payload starts with, read without decoding the rest."""
    if len(payload) < 2 or payload[0] != _ARRAY4:
        return None
    tag = payload[1]
    if tag < 0x80:
        return tag
    width = _WIDTH.get(tag)
    if width is None or len(payload) < 2 + width:
        return None
    return int.from_bytes(payload[2 : 2 + width], "big")


def scan_log(
    pread: PRead,
    *,
    file_size: int,
    path: str,
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
    progress: Progress | None = None,
) -> ScanResult:
    """Check the header and scan every frame.

    Raises NotAnEventLogError and UnsupportedFormatError for a bad header;
    a bad frame is reported in `problem`, never raised.
    """
    log_id = decode_header(pread(HEADER_BYTES, 0), path=path)
    index: array[int] = array("Q")
    end, problem = scan_frames(
        pread,
        index,
        start=HEADER_BYTES,
        file_size=file_size,
        max_frame_bytes=max_frame_bytes,
        progress=progress,
    )
    return ScanResult(log_id=log_id, index=index, end=end, file_size=file_size, problem=problem)


def scan_frames(
    pread: PRead,
    index: array[int],
    *,
    start: int,
    file_size: int,
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
    progress: Progress | None = None,
) -> tuple[int, Problem | None]:
    """Append the positions of the good frames from `start` on to `index`.

    The frame at `start` must carry offset ``len(index) + 1``. Returns the
    position after the last good frame and the problem that stopped the
    scan (None at a clean end of file).
    """
    # Locals, not globals, in the hot loop: it runs once per frame.
    unpack_head = _FRAME_AND_OFFSET.unpack_from
    probe_bytes = _FRAME_AND_OFFSET_BYTES
    head_bytes = FRAME_HEADER_BYTES
    min_payload = _MIN_PAYLOAD_BYTES
    u32_tag, array4 = _U32, _ARRAY4
    crc32 = zlib.crc32
    length_crcs: dict[int, int] = {}  # the checksum starts with the length bytes
    known_length_crc = length_crcs.get
    add = index.append
    position = start
    expected = len(index) + 1
    while position < file_size:
        block = pread(min(READ_BLOCK_BYTES, file_size - position), position)
        size = len(block)
        i = 0
        # The hot loop: whole frames inside the block that pass every check.
        # One unpack reads the frame header and, for offsets 65536..2**32-1
        # (the common case in a big log), the payload's array marker and offset.
        while i + probe_bytes <= size:
            length, crc, marker, tag, number = unpack_head(block, i)
            body = i + head_bytes
            end = body + length
            if end > size or not min_payload <= length <= max_frame_bytes:
                break
            seed = known_length_crc(length)
            if seed is None:
                seed = crc32(block[i : i + 4])
                if len(length_crcs) < _LENGTH_CRC_CACHE:
                    length_crcs[length] = seed
            if crc32(block[body:end], seed) != crc:
                break
            if (number != expected or tag != u32_tag or marker != array4) and payload_offset(
                block[body:end]
            ) != expected:
                break
            add(position + i)
            expected += 1
            i = end
        if i == 0:
            # The frame at `position` is bigger than a block, torn, or bad.
            frame_bytes, problem = _examine(
                pread,
                position,
                expected=expected,
                file_size=file_size,
                max_frame_bytes=max_frame_bytes,
            )
            if problem is not None:
                return position, problem
            add(position)
            expected += 1
            i = frame_bytes
        position += i
        if progress is not None:
            progress(position, file_size)
    return position, None


def _examine(
    pread: PRead, position: int, *, expected: int, file_size: int, max_frame_bytes: int
) -> tuple[int, Problem | None]:
    """Check the frame at `position` slowly: its size if good, else the problem."""

    def torn(reason: str) -> tuple[int, Problem]:
        return 0, Problem(kind="torn", offset=expected, position=position, reason=reason)

    def corrupt(reason: str) -> tuple[int, Problem]:
        if _zeros_to_end(pread, position, file_size):
            return torn("zero-filled tail")
        return 0, Problem(kind="corrupt", offset=expected, position=position, reason=reason)

    remaining = file_size - position
    if remaining < FRAME_HEADER_BYTES:
        return torn(f"short frame header ({remaining} bytes at the end of the file)")
    head = read_exact(pread, FRAME_HEADER_BYTES, position, path="log")
    length, crc = FRAME_HEADER.unpack(head)
    if length > max_frame_bytes:
        return corrupt(f"frame length {length} exceeds the cap of {max_frame_bytes} bytes")
    if FRAME_HEADER_BYTES + length > remaining:
        if _next_frame_follows(pread, position, file_size, expected + 1):
            return corrupt(f"damaged frame length {length}: the next frame follows it whole")
        return torn(
            f"frame of {length} bytes runs past the end of the file "
            f"({remaining - FRAME_HEADER_BYTES} payload bytes present)"
        )
    payload = read_exact(pread, length, position + FRAME_HEADER_BYTES, path="log")
    if frame_checksum(head, payload) != crc:
        if FRAME_HEADER_BYTES + length < remaining:
            return corrupt("checksum mismatch")
        if _next_frame_follows(pread, position, file_size, expected + 1):
            return corrupt("checksum mismatch (damaged length: the next frame follows it whole)")
        return torn("checksum mismatch on the last frame")
    number = payload_offset(payload)
    if number != expected:
        found = "no readable offset" if number is None else f"offset {number}"
        return corrupt(f"frame carries {found} where {expected} was expected")
    return FRAME_HEADER_BYTES + length, None


def _next_frame_follows(pread: PRead, position: int, file_size: int, offset: int) -> bool:
    """Whether a whole, valid frame carrying `offset` starts after `position`.

    A bad last frame is only a torn write if nothing valid follows it: a
    damaged length can make a frame in the middle look like it runs to (or
    past) the end of the file. The rest of the file is at most one capped
    frame here, so it is searched for the next frame's payload prefix (the
    array marker and the offset) and each hit's checksum is checked.
    """
    start = position + FRAME_HEADER_BYTES
    rest = read_exact(pread, file_size - start, start, path="log")
    marker = bytes([_ARRAY4]) + msgpack.packb(offset)
    hit = rest.find(marker, FRAME_HEADER_BYTES)
    while hit >= 0:
        frame = hit - FRAME_HEADER_BYTES
        length, crc = FRAME_HEADER.unpack_from(rest, frame)
        end = hit + length
        if end <= len(rest) and frame_checksum(rest[frame:hit], rest[hit:end]) == crc:
            return True
        hit = rest.find(marker, hit + 1)
    return False


def _zeros_to_end(pread: PRead, position: int, file_size: int) -> bool:
    while position < file_size:
        block = pread(min(READ_BLOCK_BYTES, file_size - position), position)
        if not block:
            return True
        if block.count(0) != len(block):
            return False
        position += len(block)
    return True
