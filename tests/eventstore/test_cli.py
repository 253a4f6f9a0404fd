"""`chat-log`, run as a real program on real log files."""

from __future__ import annotations

import asyncio
import io
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

from eventstore import FileEventLog, FsyncPolicy, NewRecord, SnapshotStore
from eventstore.cli import main
from eventstore.format import encode_payload

from .support import SAMPLE, active_segment, as_stored, read_log, record_round, write_log, write_v1

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
    """Flip a payload byte of the round of `offset`; return the round's position."""
    position = record_round(path, offset)
    segment = active_segment(path)
    data = bytearray(segment.read_bytes())
    data[position + 40] ^= 0x55
    segment.write_bytes(bytes(data))
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
    assert f"corruption at offset 7 (byte position {position} in " in done.stdout
    assert "chat-log repair" in done.stdout


def test_verify_reports_a_torn_tail(log_path: Path) -> None:
    segment = active_segment(log_path)
    size = segment.stat().st_size
    with segment.open("ab") as file:
        file.write(b"RND2\x00\x01")
    done = chat_log("verify", "--log", str(log_path))
    assert done.returncode == 1
    assert f"torn tail at byte position {size} in {segment} (offset 21)" in done.stdout


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
    assert stats["file_bytes"] == active_segment(log_path).stat().st_size
    sizes = [
        len(encode_payload(r.offset, r.ts, r.name, r.data, max_frame_bytes=1 << 20))
        for r in as_stored(SAMPLE)
    ]
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


# Starts chat-log with SIGINT ignored, as a shell without job control starts a
# background job (`sh -c 'chat-log tail -f &'`): exec keeps an ignored signal.
IGNORING_SIGINT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
)


@pytest.mark.parametrize("inherited", ["default", "sigint-ignored"])
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_tail_follow_sees_records_appended_by_a_running_writer(
    log_path: Path, stop: signal.Signals, inherited: str
) -> None:
    command = [*CHAT_LOG, "tail", "-n", "1", "-f", "--json", "--log", str(log_path)]
    if inherited == "sigint-ignored":
        command = [sys.executable, "-c", IGNORING_SIGINT, *command[1:]]
    else:  # explicitly the default, whatever this test run inherited
        command = [sys.executable, "-c", RESTORING_SIGINT, *command[1:]]
    follower = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
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
            # Small segments: the writer rolls while the follower follows.
            async with await FileEventLog.open(
                log_path, fsync=FsyncPolicy.ALWAYS, segment_max_bytes=600
            ) as log:
                await log.append([NewRecord(ts=1_800_000_000.0, name="late.v1", data={"k": 1})])
                await log.append([NewRecord(ts=1_800_000_001.0, name="later.v1")])
                for n in range(10):
                    await log.append([NewRecord(ts=1_800_000_002.0, name="more.v1", data={"n": n})])

        asyncio.run(append())
        names = [json.loads(lines.get(timeout=15))["name"] for _ in range(12)]
        assert names == ["late.v1", "later.v1", *["more.v1"] * 10]
        assert len(list(log_path.glob("*.seg"))) > 2
        follower.send_signal(stop)
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


RESTORING_SIGINT = IGNORING_SIGINT.replace("signal.SIG_IGN", "signal.SIG_DFL")


def test_repair_cuts_after_the_last_good_frame_and_keeps_a_backup(log_path: Path) -> None:
    original_size = active_segment(log_path).stat().st_size
    position = damage(log_path, 12)
    damaged = active_segment(log_path).read_bytes()
    done = chat_log("repair", "--yes", "--log", str(log_path))
    assert done.returncode == 0, done.stderr
    assert f"cuts {original_size - position} bytes, from byte position {position}" in done.stdout
    assert "records cut: offsets 12..20: the unreadable frame at 12 and 8 readable" in done.stdout
    assert f"cut {original_size - position} bytes from byte position {position}" in done.stdout
    assert "kept 11 records" in done.stdout
    [backup] = log_path.parent.glob("events.log.bak-*")
    assert (backup / active_segment(log_path).name).read_bytes() == damaged
    assert str(backup) in done.stdout
    assert chat_log("verify", "--log", str(log_path)).returncode == 0
    assert read_log(log_path)[1] == as_stored(SAMPLE[:11])
    again = chat_log("repair", "--log", str(log_path))  # whole: nothing to ask
    assert (again.returncode, "nothing cut" in again.stdout) == (0, True)


def test_repair_refuses_while_a_server_holds_the_log(log_path: Path) -> None:
    with active_segment(log_path).open("ab") as file:
        file.write(b"RND2")  # a torn round to the server, which cuts it

    async def scenario() -> subprocess.CompletedProcess[str]:
        async with await FileEventLog.open(log_path):
            return await asyncio.to_thread(chat_log, "repair", "--yes", "--log", str(log_path))

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
        os.truncate(active_segment(log_path), record_round(log_path, 11))  # someone cut it back
        _, stderr = follower.communicate(timeout=15)
        assert follower.returncode == 1
        assert "replaced or truncated" in stderr
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.communicate()


def test_repair_shows_the_plan_and_asks_on_a_terminal(
    log_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    position = damage(log_path, 15)
    damaged = active_segment(log_path).read_bytes()
    monkeypatch.setattr(sys, "stdin", TerminalInput("n\n"))
    assert main(["repair", "--log", str(log_path)]) == 1
    out, err = capsys.readouterr()
    assert f"from byte position {position} to the end" in out
    assert "records cut: offsets 15..20" in out
    assert "records kept: 14 (offsets 1..14)" in out
    assert "events.log.bak-" in out
    assert "cut it? [y/N]" in err
    assert active_segment(log_path).read_bytes() == damaged
    monkeypatch.setattr(sys, "stdin", TerminalInput("y\n"))
    assert main(["repair", "--log", str(log_path)]) == 0
    assert read_log(log_path)[1] == as_stored(SAMPLE[:14])


def test_repair_without_a_terminal_or_yes_refuses_with_exit_2(log_path: Path) -> None:
    damage(log_path, 3)
    damaged = active_segment(log_path).read_bytes()
    done = chat_log("repair", "--log", str(log_path))  # stdin is not a terminal here
    assert done.returncode == 2
    assert "records cut: offsets 3..20" in done.stdout
    assert "not a terminal" in done.stderr
    assert "--yes" in done.stderr
    assert active_segment(log_path).read_bytes() == damaged
    assert list(log_path.parent.glob("events.log.bak-*")) == []


def test_repair_dry_run_only_shows(log_path: Path) -> None:
    damage(log_path, 3)
    damaged = active_segment(log_path).read_bytes()
    done = chat_log("repair", "--dry-run", "--log", str(log_path))
    assert done.returncode == 1
    assert "records cut: offsets 3..20" in done.stdout
    assert "nothing cut (dry run)" in done.stdout
    assert active_segment(log_path).read_bytes() == damaged
    assert list(log_path.parent.glob("events.log.bak-*")) == []


class TerminalInput(io.StringIO):
    """Standard input that says it is a terminal."""

    def isatty(self) -> bool:
        return True


HOSTILE = (
    "\x1b[2J\x07"  # C0: clear the screen, bell
    "\x7f"  # DEL
    "\x9b31m\x85"  # C1: CSI, NEL
    "\u202eevil\u202c"  # bidi override and pop
    "\u2066x\u2069"  # bidi isolates
    "\u2028\u2029"  # line and paragraph separators
)
UNSAFE = [chr(c) for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))] + [
    *"\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029"
]


def hostile_log(path: Path) -> None:
    write_log(
        path,
        [
            NewRecord(
                ts=1.0,
                name=f"message.sent.v1{HOSTILE}",
                data={"room": "general", "author": HOSTILE, f"k{HOSTILE}": [HOSTILE]},
            ),
            NewRecord(ts=2.0, name="n.v1", data={"password_hash": HOSTILE * 3}),
        ],
    )


@pytest.mark.parametrize("command", ["dump", "tail"])
@pytest.mark.parametrize("json_output", [False, True], ids=["human", "json"])
def test_control_and_bidi_characters_never_reach_the_terminal_raw(
    tmp_path: Path, command: str, json_output: bool
) -> None:
    path = tmp_path / "events.log"
    hostile_log(path)
    done = chat_log(command, *(["--json"] if json_output else []), "--log", str(path))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.split("\n")
    assert lines[-1] == ""
    lines = lines[:-1]
    assert len(lines) == 2
    for line in lines:
        assert not [c for c in line if c in UNSAFE], line
    assert "\\u202e" in lines[0]
    assert "\\u009b" in lines[0]
    if json_output:
        first = json.loads(lines[0])
        assert first["name"] == f"message.sent.v1{HOSTILE}"
        assert first["data"]["author"] == HOSTILE
        assert first["data"][f"k{HOSTILE}"] == [HOSTILE]


def test_stats_escapes_event_names_too(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    hostile_log(path)
    for args in ([], ["--json"]):
        done = chat_log("stats", *args, "--log", str(path))
        assert done.returncode == 0, done.stderr
        assert not [c for c in done.stdout.replace("\n", "") if c in UNSAFE]


def test_segments_lists_every_segment_and_a_format_1_file(tmp_path: Path) -> None:
    path = tmp_path / "events.log"
    write_log(
        path,
        [NewRecord(ts=1.0, name="n.v1", data={"i": i}) for i in range(50)],
        segment_max_bytes=1_000,
    )
    done = chat_log("segments", "--json", "--log", str(path))
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(rows) > 2
    assert [r["state"] for r in rows] == ["sealed"] * (len(rows) - 1) + ["active"]
    assert rows[0]["first_offset"] == 1
    assert all(a["last_offset"] + 1 == b["first_offset"] for a, b in itertools.pairwise(rows))
    assert sum(r["records"] for r in rows) == 50
    human = chat_log("segments", "--log", str(path))
    assert "offsets 1.." in human.stdout
    old = tmp_path / "old.log"
    write_v1(old, SAMPLE)
    assert "format-1 file" in chat_log("segments", "--log", str(old)).stdout


def test_snapshots_lists_and_verifies_them(log_path: Path) -> None:
    async def snapshot() -> None:
        async with await FileEventLog.open(log_path, fsync=FsyncPolicy.NONE) as log:
            store = SnapshotStore(log.path, log)
            store.write(10, b"ten", "v1")
            store.write(20, b"twenty", "v2")

    asyncio.run(snapshot())
    done = chat_log("snapshots", "--json", "--log", str(log_path))
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(r["offset"], r["code_version"], r["ok"]) for r in rows] == [
        (20, "v2", True),
        (10, "v1", True),
    ]
    refused = chat_log("snapshots", "--code-version", "v2", "--log", str(log_path))
    assert refused.returncode == 1
    assert "refused: code version 'v1'" in refused.stdout
