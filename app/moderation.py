"""Moderation: reports from users; the third distinct reporter bans the user from sending."""

from __future__ import annotations

import logging

from app.core import Core
from app.views import Session
from domain import NotFoundError, ReportUser, UserBanned, ValidationError, check_user_name

log = logging.getLogger("app.moderation")

MAX_REASON_CHARS = 500


class Moderation:
    """Reports and the bans they lead to."""

    def __init__(self, core: Core) -> None:
        self._core = core

    async def report(self, session: Session, name: str, *, reason: object = None) -> bool:
        """Report a user; True when this report banned them.

        Raises NotFoundError, ValidationError, RateLimitedError (the reports budget).
        """
        if reason is not None and (not isinstance(reason, str) or len(reason) > MAX_REASON_CHARS):
            raise ValidationError(
                f"reason is a text of at most {MAX_REASON_CHARS} characters", field="reason"
            )
        try:
            user = check_user_name(name, field="name")
        except ValidationError:
            raise NotFoundError(f"there is no user {name!r}") from None
        self._core.budgets.charge(session.user_key, "reports")
        entries = await self._core.execute(
            [ReportUser(reporter=session.user, user=user, reason=reason)]
        )
        banned = any(isinstance(event, UserBanned) for _, _, event in entries)
        if banned:
            log.info("user banned user=%s", user)
        return banned
