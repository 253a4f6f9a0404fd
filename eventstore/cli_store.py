"""`chat-log segments` and `chat-log snapshots`: what a log directory holds, as lines.

These build their output and leave the printing to `cli` (the only module
that talks to the terminal); every line goes through `present.terminal_safe`
there.
"""

from __future__ import annotations

import datetime as dt
import os

from eventstore.present import json_text
from eventstore.segment_reader import SegmentLogReader
from eventstore.snapshot import SnapshotStore

OK = 0
PROBLEMS = 1


def _when(ms: int) -> str:
    moment = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def segments_report(path: str, *, as_json: bool) -> tuple[int, list[str]]:
    """One line per segment of the log at `path` (a format-1 file is one segment).

    Raises OSError, NotAnEventLogError and UnsupportedFormatError.
    """
    if not os.path.isdir(path):
        size = os.path.getsize(path)
        row = {"segment": path, "format": 1, "state": "format-1 file", "bytes": size}
        text = f"{path}  format-1 file (one segment; upgraded at the next open)  {size} bytes"
        return OK, [json_text(row) if as_json else text]
    lines = []
    with SegmentLogReader(path) as reader:
        reader.scan()
        for segment in reader.segments:
            state = "sealed" if segment.sealed else "active"
            if segment.compacted:
                state += ", compacted"
            row = {
                "segment": os.path.basename(segment.path),
                "first_offset": segment.base_offset,
                "last_offset": segment.last_offset,
                "records": segment.records,
                "bytes": segment.file_size if segment.sealed else segment.data_end,
                "state": state,
                "created": _when(segment.header.created_ms),
            }
            lines.append(
                json_text(row)
                if as_json
                else f"{row['segment']}  offsets {segment.base_offset}..{segment.last_offset}  "
                f"{segment.records} records  {row['bytes']} bytes  {state}  "
                f"created {row['created']}"
            )
        code = OK
        if reader.problem is not None:
            lines.append(
                f"problem in {reader.problem.path} at offset {reader.problem.offset}: "
                f"{reader.problem.reason}"
            )
            code = PROBLEMS if reader.problem.kind == "corrupt" else OK
    return code, lines


def snapshots_report(
    path: str, *, code_version: str | None, as_json: bool
) -> tuple[int, list[str]]:
    """One line per snapshot of the log at `path`, each verified against the log.

    Raises OSError, NotAnEventLogError and UnsupportedFormatError.
    """
    if not os.path.isdir(path):
        return OK, [f"{path} is a format-1 file: it has no snapshots"]
    lines = []
    code = OK
    with SegmentLogReader(path) as reader:
        reader.scan()
        store = SnapshotStore(path, reader)
        for info in store.list(code_version):
            if info.refused is not None:
                code = PROBLEMS
            row = {
                "snapshot": os.path.basename(info.path),
                "offset": info.offset,
                "code_version": info.code_version,
                "payload_bytes": info.payload_bytes,
                "ok": info.refused is None,
                "refused": info.refused,
            }
            verdict = "ok" if info.refused is None else f"refused: {info.refused}"
            lines.append(
                json_text(row)
                if as_json
                else f"{row['snapshot']}  offset {info.offset}  code {info.code_version}  "
                f"{info.payload_bytes} bytes  {verdict}"
            )
    if not lines and not as_json:
        lines.append(f"{path} has no snapshots")
    return code, lines
