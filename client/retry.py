"""Riding out network trouble: retries with capped exponential backoff.

One-shot commands give up after a few tries (exit 3); interactive mode's
sender and the follower of `/events` never do. Each says so on the first
failure and again when the connection is back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from attrs import define

from client.http import NetworkError

__all__ = ["Backoff", "retrying"]

T = TypeVar("T")


@define(kw_only=True)
class Backoff:
    """Capped exponential delays: 0.2, 0.4, 0.8 ... 5 s."""

    initial_s: float = 0.2
    cap_s: float = 5.0
    factor: float = 2.0
    failures: int = 0

    def next_delay(self) -> float:
        """The delay before the next attempt (and count one more failure)."""
        delay = min(self.cap_s, self.initial_s * self.factor**self.failures)
        self.failures += 1
        return delay

    def reset(self) -> bool:
        """Forget the failures; True when there were any."""
        had, self.failures = self.failures > 0, 0
        return had


async def retrying(
    attempt: Callable[[], Awaitable[T]],
    notice: Callable[[str], None],
    *,
    backoff: Backoff | None = None,
    max_attempts: int | None = None,
) -> T:
    """Run `attempt` until it does not raise NetworkError.

    Raises the last NetworkError after `max_attempts` (None: never gives up),
    and whatever else `attempt` raises.
    """
    backoff = backoff or Backoff()
    while True:
        try:
            result = await attempt()
        except NetworkError as exc:
            if max_attempts is not None and backoff.failures + 1 >= max_attempts:
                raise
            delay = backoff.next_delay()
            notice(f"{exc}; retrying in {delay:.1f} s")
            await asyncio.sleep(delay)
            continue
        if backoff.reset():
            notice("connection is back")
        return result
