"""Running `chat` as a subprocess with its own CHAT_HOME, and reading what it printed."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from attrs import frozen

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


def run_chat(home: Path, *args: str, stdin: str = "", timeout_s: float = 30.0) -> Result:
    """Run `chat ARGS` to completion."""
    proc = subprocess.run(
        [*CHAT, *args],
        input=stdin.encode(),
        capture_output=True,
        env=chat_env(home),
        timeout=timeout_s,
        check=False,
    )
    return Result(rc=proc.returncode, out=proc.stdout.decode(), err=proc.stderr.decode())


async def chat(
    home: Path,
    *args: str,
    stdin: str = "",
    timeout_s: float = 30.0,
    env: dict[str, str] | None = None,
) -> Result:
    """Run `chat ARGS` to completion (stdin given, CHAT_HOME=home, `env` added)."""
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
