"""`chat-log`, run as a real program on real log files."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest

from eventstore import FileEventLog, FsyncPolicy, NewRecord
from eventstore.cli import human_line, json_line, main, redact

from .support import SAMPLE, as_stored, frame_positions, read_log, write_log

ROOT = Path(__file__).resolve().parents[2]
CHAT_LOG = (sys.executable, "-m", "eventstore.cli")


def chat_log(*args: str, timeout_s: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CHAT_LOG, *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        cwd=ROOT,
        check=False,
    )


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "events.log"
    write_log(path, SAMPLE)
    return path


def damage(path: Path, offset: int) -> int:
    """Flip a payload byte of the frame of `offset`; return the frame's position."""
    position = frame_positions(path)[offset - 1]
    data = bytearray(path.read_bytes())
    data[position + 12] ^= 0x55
    path.write_bytes(bytes(data))
    return position


def test_verify_a_whole_log(log_path: Path) -> None:
    done = chat_log("verify", "--log", str(log_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok: ")
    assert "20 records" in done.stdout


def test_verify_names_the_offset_and_position_of_corruption(log_path: Path) -> None:
    position = damage(log_path, 7)
    done = chat_log("verify", "--log", str(log_path))
    assert done.returncode == 1
    assert f"corruption at offset 7 (byte position {position})" in done.stdout
    assert "chat-log repair" in done.stdout


def test_verify_reports_a_torn_tail(log_path: Path) -> None:
    size = log_path.stat().st_size
    with log_path.open("ab") as file:
        file.write(b"\x00\x00\x01")
    done = chat_log("verify", "--log", str(log_path))
    assert done.returncode == 1
    assert f"torn tail at byte position {size} (offset 21)" in done.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "no log at"), (b"not a log at all, just some text here", "not an event log")],
)
def test_verify_a_missing_or_foreign_file(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "events.log"
    if content is not None:
        path.write_bytes(content)
    done = chat_log("verify", "--log", str(path))
    assert done.returncode == 1
    assert message in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("args", [[], ["frobnicate"], ["dump", "--from", "0"], ["tail", "-n", "x"]])
def test_usage_errors_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(args)
    assert caught.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_dump_prints_one_masked_line_per_record(log_path: Path) -> None:
    done = chat_log("dump", "--log", str(log_path))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 20
    assert lines[0].split()[:3] == ["1", "2023-11-14T22:13:20.000Z", "user.registered.v1"]
    assert "password_hash=scrypt$a…" in lines[0]
    assert "salt=00010001…" in lines[0]
    assert "ab" * 32 not in done.stdout
    assert "f" * 64 not in done.stdout
    assert 'text="привет, мир 👋"' in lines[4]
    assert "bytes=<64 bytes>" in done.stdout


def test_dump_json_lines_carry_every_record_with_secrets_masked(log_path: Path) -> None:
    done = chat_log("dump", "--json", "--log", str(log_path))
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["offset"] for r in rows] == list(range(1, 21))
    assert [r["name"] for r in rows] == [r.name for r in SAMPLE]
    assert rows[1]["data"] == {"user": "alice", "token_hash": "ffffffff…"}
    assert rows[6]["data"]["members"] == ["bob", "alice", "борис"]


def _offsets(*args: str) -> list[int]:
    done = chat_log("dump", "--json", *args)
    assert done.returncode == 0, done.stderr
    return [json.loads(line)["offset"] for line in done.stdout.splitlines()]


def test_dump_filters(log_path: Path) -> None:
    log = ("--log", str(log_path))
    stored = as_stored(SAMPLE)
    assert _offsets(*log, "--from", "5", "--to", "8") == [5, 6, 7, 8]
    assert _offsets(*log, "--type", "message.sent") == [
        r.offset for r in stored if r.name.startswith("message.sent")
    ]
    assert _offsets(*log, "--room", "r-1") == [
        r.offset for r in stored if r.data.get("room") == "r-1"
    ]
    # alice as user, author, owner, member or direct recipient.
    assert _offsets(*log, "--user", "alice") == [1, 2, 3, 4, 7, 9, 10, 17, 19, 20]
    assert _offsets(*log, "--user", "mallory") == [11, 12]
    assert _offsets(*log, "--user", "carol") == [13, 14]  # author, and `by` of a join
    assert _offsets(*log, "--user", "alice", "--type", "message", "--from", "10") == [10, 17, 20]


def test_stats_counts_sizes_and_span(log_path: Path) -> None:
    done = chat_log("stats", "--json", "--log", str(log_path))
    assert done.returncode == 0, done.stderr
    stats = json.loads(done.stdout)
    assert stats["records"] == 20
    assert stats["counts"] == dict(Counter(r.name for r in SAMPLE))
    assert stats["file_bytes"] == log_path.stat().st_size
    positions = frame_positions(log_path)
    sizes = [b - a for a, b in itertools.pairwise(positions)]
    assert stats["frame_bytes"] == sum(sizes)
    assert stats["max_frame_bytes"] == max(sizes)
    assert stats["span_s"] == 19.0
    human = chat_log("stats", "--log", str(log_path))
    assert human.returncode == 0
    assert "message.sent.v1" in human.stdout
    assert "records      20" in human.stdout


def test_tail_prints_the_last_records(log_path: Path) -> None:
    done = chat_log("tail", "-n", "3", "--json", "--log", str(log_path))
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["offset"] for line in done.stdout.splitlines()] == [18, 19, 20]
    assert chat_log("tail", "-n", "0", "--log", str(log_path)).stdout == ""


def test_tail_follow_sees_records_appended_by_a_running_writer(log_path: Path) -> None:
    follower = subprocess.Popen(
        [*CHAT_LOG, "tail", "-n", "1", "-f", "--json", "--log", str(log_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert follower.stdout is not None

    def pump_lines() -> None:
        for line in follower.stdout or ():
            lines.put(line)

    pump = threading.Thread(target=pump_lines)
    pump.start()
    try:
        assert json.loads(lines.get(timeout=15))["offset"] == 20

        async def append() -> None:
            async with await FileEventLog.open(log_path, fsync=FsyncPolicy.ALWAYS) as log:
                await log.append([NewRecord(ts=1_800_000_000.0, name="late.v1", data={"k": 1})])
                await log.append([NewRecord(ts=1_800_000_001.0, name="later.v1")])

        asyncio.run(append())
        names = [json.loads(lines.get(timeout=15))["name"] for _ in range(2)]
        assert names == ["late.v1", "later.v1"]
        follower.send_signal(signal.SIGINT)  # Ctrl-C
        assert follower.wait(timeout=10) == 0
        assert follower.stderr is not None
        assert "Traceback" not in follower.stderr.read()
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()
        pump.join(timeout=10)
        for stream in (follower.stdout, follower.stderr):
            if stream is not None:
                stream.close()


def test_repair_cuts_after_the_last_good_frame_and_keeps_a_backup(log_path: Path) -> None:
    original_size = log_path.stat().st_size
    position = damage(log_path, 12)
    damaged = log_path.read_bytes()
    done = chat_log("repair", "--log", str(log_path))
    assert done.returncode == 0, done.stderr
    assert f"cut {original_size - position} bytes from byte position {position}" in done.stdout
    assert "kept 11 records" in done.stdout
    [backup] = log_path.parent.glob("events.log.bak-*")
    assert backup.read_bytes() == damaged
    assert str(backup) in done.stdout
    assert chat_log("verify", "--log", str(log_path)).returncode == 0
    assert read_log(log_path)[1] == as_stored(SAMPLE[:11])
    again = chat_log("repair", "--log", str(log_path))
    assert (again.returncode, "nothing cut" in again.stdout) == (0, True)


def test_repair_refuses_while_a_server_holds_the_log(log_path: Path) -> None:
    damage(log_path, 20)  # the last frame: a torn write to the server, which cuts it

    async def scenario() -> subprocess.CompletedProcess[str]:
        async with await FileEventLog.open(log_path):
            return await asyncio.to_thread(chat_log, "repair", "--log", str(log_path))

    done = asyncio.run(scenario())
    assert done.returncode == 1
    assert "in use by another process" in done.stderr
    assert list(log_path.parent.glob("events.log.bak-*")) == []


def test_a_closed_pipe_ends_dump_quietly(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    write_log(
        path,
        [NewRecord(ts=1.0, name="n.v1", data={"i": i, "text": "x" * 60}) for i in range(5000)],
        batch=500,
    )
    reader = subprocess.Popen(
        [*CHAT_LOG, "dump", "--log", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    assert reader.stdout is not None
    assert reader.stderr is not None
    assert reader.stdout.readline().split()[0] == b"1"
    reader.stdout.close()  # like `| head -1`
    stderr = reader.stderr.read()
    reader.stderr.close()
    assert reader.wait(timeout=30) == 0
    assert b"Traceback" not in stderr, stderr.decode()
    assert b"BrokenPipe" not in stderr


def test_secrets_and_bytes_are_masked_at_any_depth() -> None:
    data = {
        "user": "alice",
        "password_hash": "scrypt$0123456789",
        "nested": {"token_hash": b"\x01\x02\x03\x04\x05\x06", "ok": [b"\x00" * 3]},
        "salt": "short",
        "api_key_hash": 1234567890123,
    }
    assert redact(data) == {
        "user": "alice",
        "password_hash": "scrypt$0…",
        "nested": {"token_hash": "01020304…", "ok": ["<3 bytes>"]},
        "salt": "short…",
        "api_key_hash": "12345678…",
    }
    [record] = as_stored([NewRecord(ts=0.0, name="x.v1", data=data)])
    for line in (human_line(record), json_line(record)):
        assert "scrypt$0123456789" not in line
        assert "0102030405" not in line


def test_dump_of_a_corrupt_log_prints_the_good_prefix_and_exits_1(
    log_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    damage(log_path, 5)
    assert main(["dump", "--json", "--log", str(log_path)]) == 1
    out, err = capsys.readouterr()
    assert [json.loads(line)["offset"] for line in out.splitlines()] == [1, 2, 3, 4]
    assert "corruption at offset 5" in err


def test_the_default_log_path_is_data_events_log(
    log_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cwd = Path.cwd()
    os.chdir(log_path.parent.parent)
    try:
        assert main(["stats", "--json"]) == 0
    finally:
        os.chdir(cwd)
    assert json.loads(capsys.readouterr().out)["records"] == 20


def test_tail_follow_stops_when_the_log_is_cut_under_it(log_path: Path) -> None:
    follower = subprocess.Popen(
        [*CHAT_LOG, "tail", "-n", "1", "-f", "--log", str(log_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert follower.stdout is not None
        assert follower.stdout.readline().split()[0] == "20"
        os.truncate(log_path, frame_positions(log_path)[10])  # someone cut it back
        _, stderr = follower.communicate(timeout=15)
        assert follower.returncode == 1
        assert "replaced or truncated" in stderr
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.communicate()
