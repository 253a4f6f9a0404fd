"""Open and scan a log in format 2 (segments) and in format 1 (one file), for the benchmarks.

Format 1 is measured with the code that opened it before segments: the
frame scan that built the offset index (`legacy.scan_log`, what
`FileEventLog.open` did) and the block decoder behind its `iter_from(0)`
(`format.iter_decoded`). Both still ship, to read and upgrade old logs.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from eventstore import FileEventLog, FsyncPolicy
from eventstore.fileio import fd_reader
from eventstore.format import DEFAULT_MAX_FRAME_BYTES, encode_frame, encode_header, iter_decoded
from eventstore.legacy import scan_log

FORMAT1_NAME = "events.format1.log"


def write_format1_copy(log_dir: Path, target: Path) -> None:
    """Write every record of the format-2 log at `log_dir` as a format-1 file at `target`."""

    async def copy() -> None:
        async with await FileEventLog.open(log_dir, fsync=FsyncPolicy.NONE) as log:
            with target.open("wb") as out:
                out.write(encode_header(bytes.fromhex(log.log_id)))
                chunk: list[bytes] = []
                for record in log.iter_from(0):
                    chunk.append(
                        encode_frame(
                            record.offset,
                            record.ts,
                            record.name,
                            record.data,
                            max_frame_bytes=DEFAULT_MAX_FRAME_BYTES,
                        )
                    )
                    if len(chunk) == 10_000:
                        out.write(b"".join(chunk))
                        chunk = []
                out.write(b"".join(chunk))

    asyncio.run(copy())


def measure_format1(path: Path, *, iterate: bool) -> dict[str, float]:
    """Open (scan every frame) and maybe iterate a format-1 file, as the old code did."""
    started, cpu = time.perf_counter(), time.process_time()
    fd = os.open(path, os.O_RDONLY)
    try:
        pread = fd_reader(fd)
        result = scan_log(pread, file_size=os.fstat(fd).st_size, path=str(path))
        opened = time.perf_counter()
        count = 0
        if iterate and result.head:
            records = iter_decoded(
                pread,
                result.index,
                first=1,
                last=result.head,
                end_position=result.end,
                path=str(path),
            )
            count = sum(1 for _ in records)
    finally:
        os.close(fd)
    done = time.perf_counter()
    return {
        "events": count if iterate else result.head,
        "open_s": opened - started,
        "seconds": done - started,
        "cpu_s": time.process_time() - cpu,
    }


def measure_format2(path: Path, *, iterate: bool) -> dict[str, float]:
    """Open (seals only, the active segment scanned) and maybe iterate a format-2 log."""

    async def run() -> dict[str, float]:
        started, cpu = time.perf_counter(), time.process_time()
        log = await FileEventLog.open(path, fsync=FsyncPolicy.NONE)
        opened = time.perf_counter()
        count = sum(1 for _ in log.iter_from(0)) if iterate else log.head
        done = time.perf_counter()
        cpu_s = time.process_time() - cpu
        await log.close()
        return {
            "events": count,
            "open_s": opened - started,
            "seconds": done - started,
            "cpu_s": cpu_s,
        }

    return asyncio.run(run())
