"""Long-poll support: recent decoded events, and waiters woken per user.

How this works: every event the service stages is also kept, decoded, in
`RecentEvents` (a window of the newest ones), so a poll near the head never
touches the log file. A poll with nothing to return parks a future in
`Waiters` under its user's key; after each durable append the service wakes
exactly the users in the new events' audience (or everyone, for `general`).
A woken poll re-reads and parks again if what arrived is not for it.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator

from domain import Event

Entry = tuple[int, float, Event]  # offset, ts, event
Audience = frozenset[str] | None  # name keys who may see an event; None: everyone
Seen = tuple[int, float, Event, Audience]


class RecentEvents:
    """The newest events, decoded, addressable by offset (offsets are dense).

    Events meant for one user only (their cursor moves, their scheduled
    messages, their ban) are also indexed per user, and everything else in
    one shared index, so a poll walks the shared events and its own, not
    every other user's cursor moves: with many readers those are most of
    the log.
    """

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._items: list[Seen] = []
        self._base = 1  # offset of _items[0]
        self._shared: list[int] = []  # offsets of events for more than one user
        self._private: dict[str, list[int]] = {}  # user key -> offsets of their own events

    def add(self, offset: int, ts: float, event: Event, audience: Audience) -> None:
        """Keep an event with its audience when staged (a superset of who can see it later)."""
        if not self._items:
            self._base = offset
        self._items.append((offset, ts, event, audience))
        if audience is not None and len(audience) == 1:
            (user_key,) = audience
            self._private.setdefault(user_key, []).append(offset)
        elif audience is None or audience:
            self._shared.append(offset)
        if len(self._items) > 2 * self._capacity:
            self._trim()

    def _trim(self) -> None:
        del self._items[: self._capacity]
        self._base += self._capacity
        del self._shared[: bisect_left(self._shared, self._base)]
        for user_key in list(self._private):
            offsets = self._private[user_key]
            del offsets[: bisect_left(offsets, self._base)]
            if not offsets:
                del self._private[user_key]

    @property
    def first_offset(self) -> int:
        """The oldest offset held (1 + the head when empty)."""
        return self._base if self._items else self._base + 1

    def between(self, after: int, upto: int) -> Iterator[Seen]:
        """Entries with after < offset <= upto that this window holds."""
        start = max(after + 1 - self._base, 0)
        stop = upto + 1 - self._base
        for index in range(start, min(stop, len(self._items))):
            yield self._items[index]

    def for_user(self, user_key: str, after: int, upto: int) -> Iterator[Seen]:
        """Like `between`, but only events the user could be in the audience of."""
        offsets: Iterator[int] = self._window(self._shared, after, upto)
        own = self._private.get(user_key)
        if own and bisect_right(own, after) < bisect_right(own, upto):  # merge only when needed
            offsets = heapq.merge(offsets, self._window(own, after, upto))
        items, base = self._items, self._base
        for offset in offsets:
            yield items[offset - base]

    @staticmethod
    def _window(offsets: list[int], after: int, upto: int) -> Iterator[int]:
        start = bisect_right(offsets, after)
        stop = bisect_right(offsets, upto, start)
        return itertools.islice(offsets, start, stop)


class Waiters:
    """Parked long polls by user key."""

    def __init__(self) -> None:
        # user key -> parked future -> the session that parked it
        self._by_user: dict[str, dict[asyncio.Future[None], int]] = {}

    async def wait(self, user_key: str, session: int, timeout_s: float) -> None:
        """Return when woken for this user or when the timeout passes."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        parked = self._by_user.setdefault(user_key, {})
        parked[future] = session
        try:
            async with asyncio.timeout(timeout_s):
                await future
        except TimeoutError:
            pass
        finally:
            parked.pop(future, None)
            if not parked and self._by_user.get(user_key) is parked:
                del self._by_user[user_key]

    def wake(self, user_keys: Iterable[str] | None) -> None:
        """Wake the polls of these users; None wakes every poll."""
        if user_keys is None:
            groups: Iterable[dict[asyncio.Future[None], int]] = list(self._by_user.values())
        else:
            groups = [g for key in user_keys if (g := self._by_user.get(key)) is not None]
        for group in groups:
            for future in group:
                if not future.done():
                    future.set_result(None)

    def wake_other_sessions(self, user_key: str, session: int | None) -> None:
        """Wake the user's polls except those of `session` (it caused what happened)."""
        for future, parked_by in self._by_user.get(user_key, {}).items():
            if parked_by != session and not future.done():
                future.set_result(None)

    def __len__(self) -> int:
        return sum(len(group) for group in self._by_user.values())
