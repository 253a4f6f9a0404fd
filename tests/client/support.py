"""Running `chat`: in this process (most steps) or as a process of its own (a few).

How this works: `run_chat` (in a synchronous test) and `chat` (in a test's
event loop) call `client.cli` here, with what a process of its own would
have: CHAT_HOME set to the given home and no other CHAT_* variable, standard
input given, standard output (with a byte buffer, for `download -o -`) and
standard error captured. Those are the process's own, so two in-process runs
must not overlap: a step that has to run beside another (a `watch` left
running) is a real process, `chat_process` or `run_chat_process`.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from attrs import frozen

from client import cli

CHAT = (sys.executable, "-m", "client")


@frozen(kw_only=True)
class Result:
    """What a `chat` run printed, and its exit status."""

    rc: int
    out: str
    err: str

    def json_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.splitlines() if line]


def chat_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAT_")}
    return {**env, "CHAT_HOME": str(home), "PYTHONUNBUFFERED": "1"}


class _Captured:
    """The standard streams of one in-process run."""

    def __init__(self, stdin: str) -> None:
        self.stdin = io.StringIO(stdin)
        self.stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)
        self.stderr = io.StringIO()

    def result(self, rc: int) -> Result:
        self.stdout.flush()
        out = self.stdout.buffer
        assert isinstance(out, io.BytesIO)
        return Result(rc=rc, out=out.getvalue().decode(), err=self.stderr.getvalue())


_ONE_AT_A_TIME = threading.Lock()


@contextlib.contextmanager
def _as_its_own_process(home: Path, stdin: str, env: dict[str, str] | None) -> Iterator[_Captured]:
    if not _ONE_AT_A_TIME.acquire(blocking=False):
        raise AssertionError("in-process chat runs overlap: run one of them with chat_process")
    saved_env = dict(os.environ)
    saved_streams = sys.stdin, sys.stdout, sys.stderr
    captured = _Captured(stdin)
    os.environ.clear()
    os.environ.update({**chat_env(home), **(env or {})})
    sys.stdin, sys.stdout, sys.stderr = captured.stdin, captured.stdout, captured.stderr
    try:
        yield captured
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved_streams
        os.environ.clear()
        os.environ.update(saved_env)
        _ONE_AT_A_TIME.release()


def run_chat(home: Path, *args: str, stdin: str = "", env: dict[str, str] | None = None) -> Result:
    """Run `chat ARGS` to completion in this process (no event loop may be running)."""
    with _as_its_own_process(home, stdin, env) as captured:
        rc = cli.main(list(args))
    return captured.result(rc)


async def chat(
    home: Path,
    *args: str,
    stdin: str = "",
    timeout_s: float = 30.0,
    env: dict[str, str] | None = None,
) -> Result:
    """Run `chat ARGS` to completion in this process, on the running event loop."""
    with _as_its_own_process(home, stdin, env) as captured:
        async with asyncio.timeout(timeout_s):
            rc = await cli.run(list(args))
    return captured.result(rc)


def run_chat_process(home: Path, *args: str, stdin: str = "", timeout_s: float = 30.0) -> Result:
    """Run `chat ARGS` to completion as a process of its own."""
    proc = subprocess.run(
        [*CHAT, *args],
        input=stdin.encode(),
        capture_output=True,
        env=chat_env(home),
        timeout=timeout_s,
        check=False,
    )
    return Result(rc=proc.returncode, out=proc.stdout.decode(), err=proc.stderr.decode())


async def chat_process(
    home: Path,
    *args: str,
    stdin: str = "",
    timeout_s: float = 30.0,
    env: dict[str, str] | None = None,
) -> Result:
    """Run `chat ARGS` to completion as a process of its own (stdin given, `env` added)."""
    proc = await asyncio.create_subprocess_exec(
        *CHAT,
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**chat_env(home), **(env or {})},
    )
    try:
        async with asyncio.timeout(timeout_s):
            out, err = await proc.communicate(stdin.encode())
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return Result(rc=proc.returncode, out=out.decode(), err=err.decode())


def no_traceback(result: Result) -> None:
    assert "Traceback" not in result.err, result.err
    assert "Traceback" not in result.out, result.out


def ok(result: Result) -> Result:
    assert result.rc == 0, result.err
    no_traceback(result)
    return result


def refused(result: Result, *words: str) -> Result:
    """Exit 1 with the server's message as one line on stderr."""
    assert result.rc == 1, (result.out, result.err)
    no_traceback(result)
    assert len(result.err.splitlines()) == 1, result.err
    for word in words:
        assert word in result.err, result.err
    return result


def one_json(result: Result) -> dict[str, Any]:
    lines = ok(result).json_lines()
    assert len(lines) == 1, result.out
    return lines[0]
