"""Running `chat` as a subprocess with its own CHAT_HOME."""

from __future__ import annotations

import asyncio
import json
import os
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
