"""Scheduled messages: pending ones by id and author, and how each ended."""

from __future__ import annotations

from attrs import define, field

from domain import MessageScheduled, ScheduledState, name_key


@define(kw_only=True)
class Schedule:
    by_id: dict[int, ScheduledState] = field(factory=dict)
    pending: dict[int, ScheduledState] = field(factory=dict)
    by_key: dict[tuple[str, str], int] = field(factory=dict)  # (user key, idem key) -> id

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
        if event.idempotency_key is not None:
            self.by_key[(name_key(event.author), event.idempotency_key)] = offset

    def ended(self, scheduled: int, status: str) -> None:
        state = self.pending.pop(scheduled, None)
        if state is not None:
            self.by_id[scheduled] = ScheduledState(
                id=state.id,
                author=state.author,
                text=state.text,
                send_at=state.send_at,
                status=status,
                room=state.room,
                to=state.to,
            )

    def next_due(self) -> float | None:
        """The earliest `send_at` of a pending message."""
        return min((s.send_at for s in self.pending.values()), default=None)

    def due(self, now: float) -> list[ScheduledState]:
        """Pending messages whose time has come, in order of `send_at` then id."""
        ready = [s for s in self.pending.values() if s.send_at <= now]
        return sorted(ready, key=lambda s: (s.send_at, s.id))

    def pending_of(self, user_key: str) -> list[ScheduledState]:
        mine = [s for s in self.pending.values() if name_key(s.author) == user_key]
        return sorted(mine, key=lambda s: (s.send_at, s.id))
