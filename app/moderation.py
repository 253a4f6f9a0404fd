"""Moderation: reports (the third distinct reporter bans from sending), and blocking.

A user blocked by another cannot send them direct messages nor invite them
to rooms. Only reports from accounts older than `report_min_account_age_s`
count toward a ban, so a handful of throwaway accounts cannot ban anyone.
"""

from __future__ import annotations

import logging

from app.core import Core
from app.views import Session
from domain import (
    BlockUser,
    NotFoundError,
    ReportUser,
    UnblockUser,
    UserBanned,
    ValidationError,
    check_user_name,
)

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

    async def block(self, session: Session, name: str) -> None:
        """Stop `name` from sending the caller direct messages or invitations.

        Raises NotFoundError, ValidationError (oneself), RateLimitedError.
        """
        await self._block(session, name, unblock=False)

    async def unblock(self, session: Session, name: str) -> None:
        """Let `name` send to the caller again. Raises NotFoundError, ValidationError."""
        await self._block(session, name, unblock=True)

    async def _block(self, session: Session, name: str, *, unblock: bool) -> None:
        try:
            user = check_user_name(name, field="name")
        except ValidationError:
            raise NotFoundError(f"there is no user {name!r}") from None
        self._core.budgets.charge(session.user_key, "reports")
        command = UnblockUser if unblock else BlockUser
        await self._core.execute([command(user=session.user, blocked=user)])

    def blocked(self, session: Session) -> tuple[str, ...]:
        """The names the caller blocks."""
        model = self._core.model
        keys = model.users.blocked.get(session.user_key, ())
        return tuple(sorted(model.users.by_key[k].name for k in keys))
