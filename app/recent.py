"""The newest events, decoded, so that a poll near the head never touches the log file.

How this works: every event the core stages is also kept here with its
audience, in a window of the newest ones addressable by offset. Events
meant for one user only are indexed per user, the rest in one shared index,
so a poll walks what it may be in the audience of, not every other user's
cursor moves. The window holds a dense run of offsets: a replay that meets
a hole (an event compaction dropped) starts the window again after it. A
start leaves it empty at the head (`start_after`) and it fills as events
are staged; polls before the window read the log.
"""

from __future__ import annotations

import heapq
import itertools
from bisect import bisect_left, bisect_right
from collections.abc import Iterator

from app.core import Seen
from domain import Event
from projections import Audience


class RecentEvents:
    """The newest events, decoded, addressable by offset (a dense run of them).

    Events meant for one user only (their cursor moves, their scheduled
    messages, their ban) are also indexed per user, and everything else in
    one shared index, so a poll walks the shared events and its own, not
    every other user's cursor moves: with many readers those are most of
    the log.
    """

    def __init__(self, capacity: int, *, max_bytes: int = 2**62) -> None:
        self._capacity = capacity
        self._max_bytes = max_bytes
        self._bytes = 0  # what the texts held take, roughly (see `_size`)
        self._sizes: list[int] = []  # aligned with _items
        self._items: list[Seen] = []
        self._base = 1  # offset of _items[0]
        self._shared: list[int] = []  # offsets of events for more than one user
        self._private: dict[str, list[int]] = {}  # user key -> offsets of their own events

    def add(self, offset: int, ts: float, event: Event, audience: Audience) -> None:
        """Keep an event with its audience when staged (a superset of who can see it later)."""
        if self._items and offset != self._base + len(self._items):
            self._trim(len(self._items))  # a hole: the window starts again after it
        if not self._items:
            self._base = offset
        self._items.append((offset, ts, event, audience))
        size = _size(event)
        self._sizes.append(size)
        self._bytes += size
        if audience is not None and len(audience) == 1:
            (user_key,) = audience
            self._private.setdefault(user_key, []).append(offset)
        elif audience is None or audience:
            self._shared.append(offset)
        if len(self._items) > 2 * self._capacity:
            self._trim(self._capacity)
        elif self._bytes > self._max_bytes:
            self._trim(len(self._items) // 2)  # big texts: keep fewer events

    def _trim(self, count: int) -> None:
        """Drop the `count` oldest events (polls further back read the log)."""
        del self._items[:count]
        self._bytes -= sum(self._sizes[:count])
        del self._sizes[:count]
        self._base += count
        del self._shared[: bisect_left(self._shared, self._base)]
        for user_key in list(self._private):
            offsets = self._private[user_key]
            del offsets[: bisect_left(offsets, self._base)]
            if not offsets:
                del self._private[user_key]

    def start_after(self, head: int) -> None:
        """With nothing held, say that the events up to `head` are in the log, not here."""
        if not self._items:
            self._base = head

    @property
    def held_bytes(self) -> int:
        """Roughly how much memory the texts of the events held take."""
        return self._bytes

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


_EVENT_BYTES = 200  # an event's record, tuple and audience, roughly


def _size(event: Event) -> int:
    """A rough count of the bytes an event holds: its texts (4 per character) and more."""
    text = getattr(event, "text", None)
    return _EVENT_BYTES + (4 * len(text) if isinstance(text, str) else 0)
