"""Upgrading a format-1 file to a log directory: in place, with a backup, crash-safe."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from eventstore import FileEventLog, FsyncPolicy

from .support import EXTRA, SAMPLE, as_stored, read_log, write_v1


async def _append_one(path: Path) -> None:
    async with await FileEventLog.open(path, fsync=FsyncPolicy.NONE) as log:
        await log.append([EXTRA])


def test_a_format_1_file_is_upgraded_in_place_with_a_backup(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "events.log"
    data, _ = write_v1(path, SAMPLE)
    with caplog.at_level(logging.WARNING, logger="eventstore"):
        log_id, records = read_log(path, segment_max_bytes=600)
    assert records == as_stored(SAMPLE)
    assert log_id == "01" * 16  # the id of the old file
    [backup] = tmp_path.glob("events.log.v1-backup-*")
    assert backup.read_bytes() == data
    assert path.is_dir()
    assert len(list(path.glob("*.seg"))) > 1  # rolled by size while upgrading
    [upgraded] = [r.getMessage() for r in caplog.records if "log.upgraded" in r.getMessage()]
    assert "records=20" in upgraded
    assert str(backup) in upgraded
    asyncio.run(_append_one(path))
    assert read_log(path)[1] == [*as_stored(SAMPLE), *as_stored([EXTRA], 21)]


def test_an_interrupted_upgrade_is_finished_or_started_over(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    write_v1(path, SAMPLE)
    # Killed after building the new directory, before the renames: start over.
    (tmp_path / "events.log.upgrading").mkdir()
    (tmp_path / "events.log.upgrading" / "junk").write_bytes(b"half")
    assert read_log(path)[1] == as_stored(SAMPLE)
    # Killed between the renames: the whole new directory is renamed in.
    path.rename(tmp_path / "events.log.upgrading")
    assert read_log(path)[1] == as_stored(SAMPLE)
