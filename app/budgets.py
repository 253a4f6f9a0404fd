"""Per-user write budgets: how much one account may write, in requests and in bytes.

How this works: each kind of write (messages, comments, uploads, scheduling,
room operations, reports) has a `Budget`: so many requests and so many
bytes per window. Each user has two token buckets per kind, one counting
requests and one bytes, that hold at most the budget and refill evenly over
the window (a burst of the whole budget is allowed, then the steady rate).
A write takes its tokens before it is decided; when a bucket lacks them the
write is refused with `RateLimitedError` saying when enough will be back.
Buckets live in memory only (a restart forgives everyone) and a full bucket
is forgotten, so idle users cost nothing. These budgets come on top of the
assignment's rate window for `general`, which is a rule (`domain.rules`)
and survives restarts.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping

from attrs import define, frozen

from domain import RateLimitedError

_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "kib": 1024, "m": 1024**2, "mib": 1024**2}
_TIME_UNITS = {"s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_BUDGET = re.compile(
    r"(?P<requests>[0-9]+)(?:,(?P<bytes>[0-9]+)(?P<unit>[a-z]*))?"
    r"(?:/(?P<window>[0-9]+(?:\.[0-9]+)?)?(?P<per>[a-z]+))?",
    re.ASCII | re.IGNORECASE,
)


@frozen(kw_only=True)
class Budget:
    """`requests` writes and `bytes` bytes per `window_s`; 0 bytes: not counted."""

    requests: int
    bytes: int = 0
    window_s: float = 60.0

    @classmethod
    def parse(cls, text: str) -> Budget:
        """`60`, `60,512KiB`, `30,200MiB/1h`, `60/m`: requests[,bytes][/window].

        Raises ValueError for anything else.
        """
        match = _BUDGET.fullmatch(text.strip())
        if match is None:
            raise ValueError(f"not a budget (REQUESTS[,BYTES][/WINDOW]): {text!r}")
        size_unit = _SIZE_UNITS.get((match["unit"] or "").lower())
        per = _TIME_UNITS.get((match["per"] or "m").lower())
        if size_unit is None or per is None:
            raise ValueError(f"unknown unit in budget {text!r}")
        window_s = float(match["window"] or 1) * per
        if window_s <= 0 or not math.isfinite(window_s):
            raise ValueError(f"a budget's window must be positive: {text!r}")
        return cls(
            requests=int(match["requests"]),
            bytes=int(match["bytes"] or 0) * size_unit,
            window_s=window_s,
        )

    def __str__(self) -> str:
        window = short_duration(self.window_s)
        if self.bytes:
            return f"{self.requests},{_size(self.bytes)}/{window}"
        return f"{self.requests}/{window}"


def short_duration(seconds: float) -> str:
    """`1d`, `4h`, `15m`, `90s`: the largest unit that divides the duration."""
    for unit, factor in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= factor and seconds % factor == 0:
            return f"{seconds / factor:g}{unit}"
    return f"{seconds:g}s"


def _size(count: int) -> str:
    for unit, factor in (("MiB", 1024**2), ("KiB", 1024)):
        if count % factor == 0:
            return f"{count // factor}{unit}"
    return str(count)


@define
class _Bucket:
    tokens: float
    at: float  # when `tokens` was measured


def _take(bucket: _Bucket, amount: float, capacity: float, rate: float, now: float) -> float:
    """Refill, then how long until `amount` tokens are there (0: take them now)."""
    bucket.tokens = min(capacity, bucket.tokens + (now - bucket.at) * rate)
    bucket.at = now
    if amount <= bucket.tokens:
        return 0.0
    return (amount - bucket.tokens) / rate


def _full(bucket: _Bucket, capacity: int, budget: Budget, now: float) -> bool:
    return bucket.tokens + (now - bucket.at) * capacity / budget.window_s >= capacity


class Budgets:
    """The write budgets of every user, by kind of write."""

    def __init__(self, limits: Mapping[str, Budget], clock: Callable[[], float]) -> None:
        self._limits = dict(limits)
        self._clock = clock
        # (user key, kind) -> buckets for requests and for bytes
        self._buckets: dict[tuple[str, str], tuple[_Bucket, _Bucket]] = {}

    def check(self, user_key: str, kind: str) -> None:
        """Raise RateLimitedError if one more request of `kind` would be refused; take nothing."""
        budget = self._limits[kind]
        buckets = self._buckets.get((user_key, kind))
        if buckets is None:
            return
        requests, _ = buckets
        now = self._clock()
        tokens = min(
            budget.requests,
            requests.tokens + (now - requests.at) * budget.requests / budget.window_s,
        )
        if tokens < 1:
            wait = (1 - tokens) * budget.window_s / budget.requests
            raise RateLimitedError(wait, budget.requests, what=self._what(kind, budget))

    def charge(self, user_key: str, kind: str, *, size: int = 0, force: bool = False) -> None:
        """Take one request and `size` bytes of the user's `kind` budget.

        With `force` the tokens are taken even when they are not there (the
        bucket goes below zero: a write already made, such as the rest of an
        upload). Raises RateLimitedError when the budget is spent.
        """
        budget = self._limits[kind]
        now = self._clock()
        key = (user_key, kind)
        buckets = self._buckets.get(key)
        if buckets is None:
            buckets = (_Bucket(budget.requests, now), _Bucket(budget.bytes, now))
            self._buckets[key] = buckets
        requests, sizes = buckets
        window = budget.window_s
        wait = _take(requests, 1, budget.requests, budget.requests / window, now)
        if budget.bytes and size:
            wait = max(wait, _take(sizes, size, budget.bytes, budget.bytes / window, now))
        if wait > 0 and not force:
            raise RateLimitedError(wait, budget.requests, what=self._what(kind, budget))
        requests.tokens -= 1
        if budget.bytes:
            sizes.tokens -= size

    @staticmethod
    def _what(kind: str, budget: Budget) -> str:
        what = f"at most {budget.requests} {kind.replace('_', ' ')} per {_window(budget.window_s)}"
        if budget.bytes:
            what += f" and {_size(budget.bytes)} of them"
        return what

    def forget_idle(self) -> int:
        """Drop the buckets that have refilled (their users wrote nothing for a window)."""
        now = self._clock()
        idle = [
            key
            for key, (requests, sizes) in self._buckets.items()
            if _full(requests, self._limits[key[1]].requests, self._limits[key[1]], now)
            and _full(sizes, self._limits[key[1]].bytes, self._limits[key[1]], now)
        ]
        for key in idle:
            del self._buckets[key]
        return len(idle)

    def __len__(self) -> int:
        return len(self._buckets)


def _window(seconds: float) -> str:
    if seconds % 3600 == 0:
        hours = int(seconds // 3600)
        return "hour" if hours == 1 else f"{hours} hours"
    if seconds % 60 == 0:
        minutes = int(seconds // 60)
        return "minute" if minutes == 1 else f"{minutes} minutes"
    return f"{seconds:g} s"
