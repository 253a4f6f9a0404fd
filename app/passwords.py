"""Password checks that cannot be flooded: throttled before hashing, hashed on their own threads.

How this works: scrypt costs tens of milliseconds of CPU per try, so every
hash runs on a small executor of its own (file work on the default executor
never queues behind it), at most `MAX_WAITING_HASHES` may wait for it (more
are answered 503 at once), and wrong passwords are throttled *before* any
hashing: per name, each wrong password after the first few doubles the wait
before the next try (up to `MAX_NAME_WAIT_S`); per address, wrong passwords
and new accounts each have a budget. A right password resets its name.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from attrs import define

from app.budgets import Budget, Budgets
from domain import (
    RateLimitedError,
    ScryptCost,
    UnavailableError,
    hash_password,
    verify_password,
)

_T = TypeVar("_T")

HASH_THREADS = 2
MAX_WAITING_HASHES = 64
FREE_WRONG_TRIES = 5  # wrong passwords a name may have before it must wait
MAX_NAME_WAIT_S = 900.0
# Per address: wrong passwords and new accounts (a whole office behind one NAT stays fine).
ADDRESS_BUDGETS = {
    "wrong_passwords": Budget(requests=30, window_s=300.0),
}


@define
class _Failures:
    count: int = 0
    last: float = 0.0


class PasswordGuard:
    """Hashes and checks passwords for `Identity`, throttled and bounded."""

    def __init__(
        self,
        cost: ScryptCost,
        clock: Callable[[], float],
        *,
        registrations: Budget,
    ) -> None:
        self._cost = cost
        self._clock = clock
        self._executor = ThreadPoolExecutor(HASH_THREADS, thread_name_prefix="scrypt")
        self._slots = asyncio.Semaphore(MAX_WAITING_HASHES)
        self._by_name: dict[str, _Failures] = {}
        self._by_address = Budgets({**ADDRESS_BUDGETS, "registrations": registrations}, clock)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def check_name(self, name_key: str) -> None:
        """Raise RateLimitedError while the name must wait after wrong passwords."""
        failures = self._by_name.get(name_key)
        if failures is None or failures.count < FREE_WRONG_TRIES:
            return
        wait = min(2.0 ** (failures.count - FREE_WRONG_TRIES), MAX_NAME_WAIT_S)
        left = failures.last + wait - self._clock()
        if left > 0:
            raise RateLimitedError(
                left, FREE_WRONG_TRIES, what="too many wrong passwords for this name"
            )

    def check_address(self, address: str | None) -> None:
        """Raise RateLimitedError when the address has had too many wrong passwords."""
        if address is not None:
            self._by_address.check(address, "wrong_passwords")

    def register_from(self, address: str | None) -> None:
        """Take one new account from the address's budget. Raises RateLimitedError."""
        if address is not None:
            self._by_address.charge(address, "registrations")

    def wrong(self, name_key: str, address: str | None) -> None:
        """Count a wrong password against the name and the address."""
        failures = self._by_name.setdefault(name_key, _Failures())
        failures.count += 1
        failures.last = self._clock()
        if address is not None:
            self._by_address.charge(address, "wrong_passwords", force=True)

    def right(self, name_key: str) -> None:
        self._by_name.pop(name_key, None)

    def forget_idle(self) -> None:
        """Forget names whose last wrong password is long past, and refilled addresses."""
        now = self._clock()
        stale = [k for k, f in self._by_name.items() if now - f.last > 2 * MAX_NAME_WAIT_S]
        for key in stale:
            del self._by_name[key]
        self._by_address.forget_idle()

    async def hash(self, password: str, salt: bytes) -> str:
        """The scrypt hash of a new password. Raises UnavailableError when too busy."""
        return await self._run(hash_password, password, salt=salt, cost=self._cost)

    async def verify(self, password: str, encoded: str) -> bool:
        """Whether a password matches its hash. Raises UnavailableError when too busy."""
        return await self._run(verify_password, password, encoded)

    async def _run(self, function: Callable[..., _T], *args: object, **kwargs: object) -> _T:
        if self._slots.locked():
            raise UnavailableError(
                "the server is busy checking passwords; try again shortly", retry_after_s=1.0
            )
        async with self._slots:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, lambda: function(*args, **kwargs))
