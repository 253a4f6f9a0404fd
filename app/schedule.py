"""Scheduled messages: the caller's pending ones, cancelling, and the delivery timer.

How the timer works: one task sleeps until the earliest pending `send_at`
(by the service clock, re-checked at least every MAX_SLEEP_S so a clock that
jumps is noticed) or until a message is scheduled or cancelled (it follows
the core: `on_durable`), then delivers everything due in one batch. At start
the pending messages come from the read model, so a message that fell due
while the server was down goes out right after start. Delivery is the
`DeliverScheduled` rule: what is sent follows the rules in force at that
moment, and a refusal is recorded as `message.schedule_failed` with its reason.
(Scheduling itself is a send with a future `send_at`: `app.messages`.)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from app.core import Core, Seen
from app.errors import ServiceFailedError
from app.render import scheduled_view
from app.views import ScheduledView, Session
from domain import (
    CancelScheduled,
    DeliverScheduled,
    InsufficientStorageError,
    MessageScheduled,
    ScheduledCancelled,
)

log = logging.getLogger("app.schedule")

MAX_SLEEP_S = 30.0


class Schedule:
    """List and cancel scheduled messages; deliver them when due."""

    def __init__(self, core: Core) -> None:
        self._core = core
        self.changed = asyncio.Event()  # the timer re-arms when this is set

    def on_staged(self, seen: Seen) -> None:
        pass

    def on_durable(self, seen: Sequence[Seen]) -> None:
        if any(isinstance(e, MessageScheduled | ScheduledCancelled) for _, _, e, _ in seen):
            self.changed.set()

    def pending(self, session: Session) -> tuple[ScheduledView, ...]:
        upto = self._core.durable_head
        return tuple(
            scheduled_view(s)
            for s in self._core.model.schedule.pending_of(session.user_key)
            if s.id <= upto
        )

    async def cancel(self, session: Session, scheduled: int) -> None:
        """Cancel a pending message of the caller's.

        Raises NotFoundError, ConflictError, RateLimitedError (the scheduling budget).
        """
        self._core.budgets.charge(session.user_key, "schedule")
        await self._core.execute([CancelScheduled(author=session.user, scheduled=scheduled)])

    async def deliver_due(self) -> int:
        """Deliver (or fail) every pending message whose time has come; returns how many."""
        due = self._core.model.schedule.due(self._core.now())
        if not due:
            return 0
        await self._core.execute([DeliverScheduled(scheduled=s.id) for s in due])
        log.info("scheduled messages due=%d", len(due))
        return len(due)

    async def run_forever(self) -> None:
        """The delivery timer; cancel it to stop."""
        while True:
            self.changed.clear()
            try:
                await self.deliver_due()
            except InsufficientStorageError:
                log.warning("due scheduled messages wait: the disk is full")
            except ServiceFailedError:
                return  # the log failed: the server is stopping
            next_due = self._core.model.schedule.next_due()
            sleep_s = MAX_SLEEP_S
            if next_due is not None:
                sleep_s = min(max(next_due - self._core.now(), 0.0), MAX_SLEEP_S)
            try:
                async with asyncio.timeout(sleep_s):
                    await self.changed.wait()
            except TimeoutError:
                pass
