"""Scheduled messages: pending ones by id and author, and how each ended.

A message that ended (sent, cancelled, failed) is kept for `ttl_s` of event
time after it ended (and up to a minute more), so that a late cancel gets
`409 already sent` and a retried send with the same idempotency key gets its
first answer; then it is forgotten (a cancel gets 404), so a
schedule-and-cancel loop costs memory only for a while. Forgetting follows
event time by the minute, as messages do (`projections.timeline`), so what
is kept depends on the newest event time alone.
"""

from __future__ import annotations

from collections import deque

from attrs import define, evolve, field

from domain import MessageScheduled, ScheduledState, name_key
from projections.timeline import FORGET_BATCH_S, NEVER, minute_of


@define(kw_only=True, getstate_setstate=False)
class Schedule:
    ttl_s: float = 3600.0
    by_id: dict[int, ScheduledState] = field(factory=dict)
    pending: dict[int, ScheduledState] = field(factory=dict)
    _pending_by_author: dict[str, dict[int, ScheduledState]] = field(factory=dict)
    by_key: dict[tuple[str, str], int] = field(factory=dict)  # (user key, idem key) -> id
    _keys: dict[int, tuple[str, str]] = field(factory=dict)  # id -> its idempotency key
    _ended: deque[tuple[float, int]] = field(factory=deque)  # (when it ended, id), oldest first
    forget_at: float = NEVER  # event time from which the oldest ended one goes

    def scheduled(self, offset: int, event: MessageScheduled) -> None:
        state = ScheduledState(
            id=offset,
            author=event.author,
            text=event.text,
            send_at=event.send_at,
            status="pending",
            room=event.room,
            to=event.to,
        )
        self.by_id[offset] = self.pending[offset] = state
        self._pending_by_author.setdefault(name_key(event.author), {})[offset] = state
        if event.idempotency_key is not None:
            key = (name_key(event.author), event.idempotency_key)
            self.by_key[key] = offset
            self._keys[offset] = key

    def ended(self, scheduled: int, status: str, ts: float) -> None:
        state = self.pending.pop(scheduled, None)
        if state is not None:
            author = name_key(state.author)
            mine = self._pending_by_author[author]
            del mine[scheduled]
            if not mine:
                del self._pending_by_author[author]
            self.by_id[scheduled] = evolve(state, status=status)
            if not self._ended:
                self.forget_at = self._forget_time(ts)
            self._ended.append((ts, scheduled))

    def _forget_time(self, ended_ts: float) -> float:
        return (minute_of(ended_ts + self.ttl_s) + 1) * FORGET_BATCH_S

    def forget_ended(self, now: float) -> None:
        """Forget the messages that ended `ttl_s` before the minute of `now` (an event time)."""
        ended = self._ended
        minute = minute_of(now)
        while ended and minute_of(ended[0][0] + self.ttl_s) < minute:
            _, scheduled = ended.popleft()
            del self.by_id[scheduled]
            key = self._keys.pop(scheduled, None)
            if key is not None:
                del self.by_key[key]
        self.forget_at = self._forget_time(ended[0][0]) if ended else NEVER

    def next_due(self) -> float | None:
        """The earliest `send_at` of a pending message."""
        return min((s.send_at for s in self.pending.values()), default=None)

    def due(self, now: float) -> list[ScheduledState]:
        """Pending messages whose time has come, in order of `send_at` then id."""
        ready = [s for s in self.pending.values() if s.send_at <= now]
        return sorted(ready, key=lambda s: (s.send_at, s.id))

    def pending_of(self, user_key: str) -> list[ScheduledState]:
        mine = self._pending_by_author.get(user_key, {}).values()
        return sorted(mine, key=lambda s: (s.send_at, s.id))
