"""Power loss in the middle of a write round: fault injection over the round's pages.

The approach of the ALICE and CrashMonkey studies: record what the writer
put on disk in its last round (the bytes before and after it), then build
every disk image a power cut could leave: each 4 KiB page of the round
persisted, lost (zeros, or stale garbage), or torn at a 512-byte sector
boundary, in any combination (pages reach the disk in any order), with the
file size updated or not. Every image must open without an operator, keep
every acknowledged record, and keep the last round whole or not at all.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eventstore import FileEventLog, FsyncPolicy, NewRecord, Record

from .support import SAMPLE, active_segment, as_stored, segment_paths

PAGE = 4096
SECTOR = 512
SECTORS = PAGE // SECTOR
# A page of the round: persisted, lost (zeros), lost (stale garbage), or torn after n sectors.
PageFate = tuple[str, int]
FATES: tuple[PageFate, ...] = (
    ("persisted", 0),
    ("zeros", 0),
    ("garbage", 0),
    *(("torn", n) for n in range(1, SECTORS)),
)


def big_batch(tag: int, count: int = 60) -> list[NewRecord]:
    return [
        NewRecord(
            ts=2_000_000_000.0 + i,
            name="message.sent.v1",
            data={"tag": tag, "i": i, "text": "y" * 150},
        )
        for i in range(count)
    ]


def record_round(
    tmp: Path,
    acknowledged: Sequence[Sequence[NewRecord]],
    last: Sequence[NewRecord],
    **options: object,
) -> tuple[Path, bytes, bytes]:
    """Write the acknowledged rounds, then the last; the log, and its segment before and after."""
    path = tmp / "recorded" / "events.log"

    async def scenario() -> tuple[bytes, bytes]:
        async with await FileEventLog.open(path, fsync=FsyncPolicy.ALWAYS, **options) as log:  # type: ignore[arg-type]
            for batch in acknowledged:
                await log.append(batch)
            before = active_segment(path).read_bytes()
            await log.append(last)
            after = active_segment(path).read_bytes()
            return before, after

    before, after = asyncio.run(scenario())
    return path, before, after


def crash_image(
    before: bytes, after: bytes, fates: Sequence[PageFate], size_updated: bool, rng: random.Random
) -> bytes:
    """The segment as a power cut during the write of after[len(before):] could leave it."""
    start = len(before)
    image = bytearray(after)
    first_page = start // PAGE
    for n, (fate, sectors) in enumerate(fates):
        page_start = max((first_page + n) * PAGE, start)
        page_end = min((first_page + n + 1) * PAGE, len(after))
        if fate == "persisted":
            continue
        keep_until = (first_page + n) * PAGE + sectors * SECTOR if fate == "torn" else page_start
        for at in range(max(page_start, keep_until), page_end):
            image[at] = rng.randrange(256) if fate == "garbage" else 0
    return bytes(image if size_updated else image[:start])


def pages_of(before: bytes, after: bytes) -> int:
    return (len(after) - 1) // PAGE - len(before) // PAGE + 1


def open_image(tmp: Path, log: Path, segment: str, image: bytes) -> list[Record]:
    """Open a copy of `log` whose segment `segment` holds `image`; return every record."""
    trial = tmp / "trial" / "events.log"
    shutil.rmtree(trial.parent, ignore_errors=True)
    shutil.copytree(log, trial)
    (trial / segment).write_bytes(image)

    async def scenario() -> list[Record]:
        async with await FileEventLog.open(trial, fsync=FsyncPolicy.NONE) as opened:
            return list(opened.iter_from(0))

    return asyncio.run(scenario())


ACKNOWLEDGED = [SAMPLE[:5], SAMPLE[5:6], big_batch(1, 20), SAMPLE[6:12]]
LAST = big_batch(2)


def expected_outcomes() -> tuple[list[Record], list[Record]]:
    flat = [r for batch in ACKNOWLEDGED for r in batch]
    kept = as_stored(flat)
    return kept, [*kept, *as_stored(LAST, len(flat) + 1)]


def test_every_subset_of_lost_pages_of_the_last_round_opens_without_an_operator(
    tmp_path: Path,
) -> None:
    log, before, after = record_round(tmp_path, ACKNOWLEDGED, LAST)
    pages = pages_of(before, after)
    assert pages >= 3  # the round spans several pages, so they can arrive out of order
    without, with_last = expected_outcomes()
    name = active_segment(log).name
    rng = random.Random(7)
    for lost in itertools.product((("persisted", 0), ("zeros", 0)), repeat=pages):
        for size_updated in (True, False):
            image = crash_image(before, after, lost, size_updated, rng)
            records = open_image(tmp_path, log, name, image)
            assert records in (without, with_last), (lost, size_updated)
            if all(f == "persisted" for f, _ in lost) and size_updated:
                assert records == with_last


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_pages_dropped_reordered_and_torn_at_sector_boundaries_never_need_an_operator(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    tmp = tmp_path_factory.mktemp("power")
    log, before, after = RECORDED.setdefault("round", record_round(tmp, ACKNOWLEDGED, LAST))
    fates = data.draw(
        st.lists(
            st.sampled_from(FATES),
            min_size=pages_of(before, after),
            max_size=pages_of(before, after),
        ),
        label="fates",
    )
    size_updated = data.draw(st.booleans(), label="size_updated")
    seed = data.draw(st.integers(0, 2**32 - 1), label="garbage seed")
    image = crash_image(before, after, fates, size_updated, random.Random(seed))
    records = open_image(tmp, log, active_segment(log).name, image)
    assert records in expected_outcomes()


RECORDED: dict[str, tuple[Path, bytes, bytes]] = {}


def test_a_power_cut_during_a_seal_keeps_every_record_and_the_log_goes_on(tmp_path: Path) -> None:
    # segment_max_bytes small enough that the last append rolls the segment:
    # the seal is the round of writes the power cut hits.
    path = tmp_path / "recorded" / "events.log"

    async def scenario() -> tuple[bytes, bytes]:
        async with await FileEventLog.open(
            path, fsync=FsyncPolicy.ALWAYS, segment_max_bytes=12_000
        ) as log:
            for batch in ACKNOWLEDGED:
                await log.append(batch)
            assert len(segment_paths(path)) == 1
            first = segment_paths(path)[0]
            before = first.read_bytes()
            await log.append(LAST)
            assert len(segment_paths(path)) == 2
            return before, first.read_bytes()

    before, after = asyncio.run(scenario())
    assert len(after) > len(before)  # the seal
    flat = [r for batch in ACKNOWLEDGED for r in batch]
    sealed_name = segment_paths(path)[0].name
    for segment in segment_paths(path)[1:]:
        segment.unlink()  # the power cut came before the next segment was created
    rng = random.Random(3)
    for fates in itertools.product(FATES[:2], repeat=pages_of(before, after)):
        for size_updated in (True, False):
            image = crash_image(before, after, fates, size_updated, rng)
            assert open_image(tmp_path, path, sealed_name, image) == as_stored(flat)
