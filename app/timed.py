"""Time-driven rules the app layer runs: scheduled delivery, and reports leading to bans.

How the timer works: one task sleeps until the earliest pending `send_at`
(by the service clock, re-checked at least every MAX_SLEEP_S so a clock that
jumps is noticed) or until a new schedule or cancellation wakes it, then
delivers everything due in one batch. At start the pending messages come from
the projection, so a message that fell due while the server was down goes
out right after start. Delivery is the `DeliverScheduled` rule: what is sent
follows the rules in force at that moment, and a refusal is recorded as
`message.schedule_failed` with its reason.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from app.errors import ServiceFailedError
from app.render import scheduled_view
from app.views import ScheduledView, Session
from domain import (
    CancelScheduled,
    DeliverScheduled,
    NotFoundError,
    ReportUser,
    UserBanned,
    ValidationError,
    check_user_name,
)

if TYPE_CHECKING:
    from app.service import ChatService

log = logging.getLogger("app.timed")

MAX_SLEEP_S = 30.0
MAX_REASON_CHARS = 500


class ScheduleFeature:
    """Scheduled messages: list, cancel, and the delivery timer."""

    def __init__(self, core: ChatService) -> None:
        self._core = core

    def pending(self, session: Session) -> tuple[ScheduledView, ...]:
        upto = self._core.durable_head
        return tuple(
            scheduled_view(s)
            for s in self._core.view.schedule.pending_of(session.user_key)
            if s.id <= upto
        )

    async def cancel(self, session: Session, scheduled: int) -> None:
        """Cancel a pending message of the caller's. Raises NotFoundError, ConflictError."""
        await self._core.execute([CancelScheduled(author=session.user, scheduled=scheduled)])
        self._core.schedule_changed.set()

    async def deliver_due(self) -> int:
        """Deliver (or fail) every pending message whose time has come; returns how many."""
        due = self._core.view.schedule.due(self._core.now())
        if not due:
            return 0
        await self._core.execute([DeliverScheduled(scheduled=s.id) for s in due])
        log.info("scheduled messages due=%d", len(due))
        return len(due)

    async def run_forever(self) -> None:
        """The delivery timer; cancel it to stop."""
        changed = self._core.schedule_changed
        while True:
            changed.clear()
            try:
                await self.deliver_due()
            except ServiceFailedError:
                return  # the log failed: the server is stopping
            next_due = self._core.view.schedule.next_due()
            sleep_s = MAX_SLEEP_S
            if next_due is not None:
                sleep_s = min(max(next_due - self._core.now(), 0.0), MAX_SLEEP_S)
            try:
                async with asyncio.timeout(sleep_s):
                    await changed.wait()
            except TimeoutError:
                pass


class ModerationFeature:
    """Reports from users; the third distinct reporter bans the user from sending."""

    def __init__(self, core: ChatService) -> None:
        self._core = core

    async def report(self, session: Session, name: str, *, reason: object = None) -> bool:
        """Report a user; True when this report banned them.

        Raises NotFoundError, ValidationError.
        """
        if reason is not None and (not isinstance(reason, str) or len(reason) > MAX_REASON_CHARS):
            raise ValidationError(
                f"reason is a text of at most {MAX_REASON_CHARS} characters", field="reason"
            )
        try:
            user = check_user_name(name, field="name")
        except ValidationError:
            raise NotFoundError(f"there is no user {name!r}") from None
        entries = await self._core.execute(
            [ReportUser(reporter=session.user, user=user, reason=reason)]
        )
        banned = any(isinstance(event, UserBanned) for _, _, event in entries)
        if banned:
            log.info("user banned user=%s", user)
        return banned
