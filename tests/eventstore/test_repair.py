"""`repair_log`: the cut, the backup, and a whole log left alone."""

from __future__ import annotations

from pathlib import Path

from eventstore.repair import repair_log

from .support import (
    SAMPLE,
    write_log,
)


def test_repair_of_a_whole_log_cuts_nothing_and_makes_no_backup(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    write_log(path, SAMPLE)
    report = repair_log(str(path))
    assert (report.problem, report.cut_bytes, report.backup_path) == (None, 0, None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.log", "events.log.lock"]
