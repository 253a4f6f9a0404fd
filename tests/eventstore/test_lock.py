"""The single-writer lock: a second opener is refused, in this process or another."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from eventstore import (
    FileEventLog,
    LogLockedError,
    NewRecord,
)

from .support import (
    read_log,
    write_log,
)


def test_a_second_opener_in_the_same_process_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "events.log"

    async def scenario() -> None:
        async with await FileEventLog.open(path):
            with pytest.raises(
                LogLockedError, match=f"in use by another process \\(pid {os.getpid()}\\?\\)"
            ):
                await FileEventLog.open(path)
        async with await FileEventLog.open(path):  # released at close
            pass

    asyncio.run(scenario())


HOLDER = """
import asyncio, sys
from eventstore import FileEventLog

async def main() -> None:
    async with await FileEventLog.open(sys.argv[1]):
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)

asyncio.run(main())
"""


def test_a_second_opener_in_another_process_is_refused_with_its_pid(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline().strip() == "ready"
            with pytest.raises(LogLockedError) as caught:
                asyncio.run(FileEventLog.open(path))
            assert caught.value.pid == holder.pid
            assert f"pid {holder.pid}?" in str(caught.value)
        finally:
            assert holder.stdin is not None
            holder.stdin.close()
            assert holder.wait(timeout=10) == 0
    assert read_log(path)[1] == []


def test_an_open_cancelled_midway_releases_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    write_log(
        path, [NewRecord(ts=1.0, name="n.v1", data={"i": i}) for i in range(20_000)], batch=5000
    )

    async def scenario() -> None:
        for delay_s in (0, 0.001, 0.003, 0.01):
            opening = asyncio.create_task(FileEventLog.open(path))
            await asyncio.sleep(delay_s)
            opening.cancel()
            try:
                log = await opening
            except asyncio.CancelledError:
                pass
            else:
                await log.close()  # the open won the race
            async with asyncio.timeout(10):
                while True:
                    try:
                        log = await FileEventLog.open(path)
                    except LogLockedError:
                        await asyncio.sleep(0.01)
                    else:
                        break
            assert log.head == 20_000
            await log.close()

    asyncio.run(scenario())
