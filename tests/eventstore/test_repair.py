"""Repairing a format-1 log file: the plan (what would be cut), the cut, the backup."""

from __future__ import annotations

from pathlib import Path

import pytest

from eventstore.repair import RepairPlan, find_readable_after, repair_log

from .support import (
    SAMPLE,
    as_stored,
    bytes_reader,
    frame_positions,
    log_bytes,
    read_log,
    write_v1,
)


def test_repair_of_a_whole_log_cuts_nothing_and_makes_no_backup(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    write_v1(path, SAMPLE)
    report = repair_log(str(path))
    assert (report.plan.problem, report.plan.cut_bytes, report.cut) == (None, 0, False)
    assert report.backup_path is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.log", "events.log.lock"]


def test_a_declined_plan_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    write_v1(path, SAMPLE)
    data = bytearray(path.read_bytes())
    data[frame_positions(path)[4] + 12] ^= 0x20  # offset 5
    path.write_bytes(bytes(data))
    seen: list[RepairPlan] = []

    def decline(plan: RepairPlan) -> bool:
        seen.append(plan)
        return False

    report = repair_log(str(path), confirm=decline)
    assert not report.cut
    assert [p.kept_records for p in seen] == [4]
    assert path.read_bytes() == bytes(data)
    assert not list(tmp_path.glob("events.log.bak-*"))


@pytest.mark.parametrize(("bad", "expected"), [(1, (2, 20)), (12, (13, 20)), (20, None)])
def test_the_plan_counts_the_readable_records_the_cut_takes_with_it(
    bad: int, expected: tuple[int, int] | None
) -> None:
    data, positions = log_bytes(list(SAMPLE))
    damaged = bytearray(data)
    damaged[positions[bad - 1] + 9] ^= 0x08  # inside the payload of `bad`
    found = find_readable_after(
        bytes_reader(bytes(damaged)),
        position=positions[bad - 1],
        file_size=len(damaged),
        offset=bad,
        max_frame_bytes=1 << 20,
    )
    got = None if found is None else (found.first_offset, found.last_offset)
    assert got == expected


def test_the_repaired_log_opens_with_the_kept_prefix(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    write_v1(path, SAMPLE)
    data = bytearray(path.read_bytes())
    data[frame_positions(path)[7] + 5] ^= 0x01  # the checksum of offset 8
    path.write_bytes(bytes(data))
    report = repair_log(str(path))
    assert report.cut
    assert report.plan.readable_after is not None
    assert report.plan.readable_after.records == 12
    assert read_log(path)[1] == as_stored(SAMPLE[:7])  # upgraded to format 2 on the way
