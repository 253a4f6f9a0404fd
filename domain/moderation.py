"""Moderation: reports (enough distinct reporters ban) and blocking."""

from __future__ import annotations

from domain.commands import (
    BlockUser,
    Command,
    ReportUser,
    UnblockUser,
)
from domain.errors import (
    NotFoundError,
    ValidationError,
)
from domain.events import (
    UserBanned,
    UserBlocked,
    UserReported,
    UserUnblocked,
)
from domain.names import name_key
from domain.state import (
    ChatState,
    Decider,
    Events,
    RulesConfig,
    other_user,
)


def _report(state: ChatState, cmd: ReportUser, now: float, cfg: RulesConfig) -> Events:
    target = state.user_name(cmd.user)
    if target is None:
        raise NotFoundError(f"there is no user {cmd.user!r}")
    if name_key(target) == name_key(cmd.reporter):
        raise ValidationError("you cannot report yourself", field="name")
    until = state.banned_until(target)
    reporters = state.reporters_of(target)
    if (until is not None and now < until) or name_key(cmd.reporter) in reporters:
        return ()  # counts once; reports during a ban do not count toward the next one
    registered = state.registered_ts(cmd.reporter)
    if registered is None or now - registered < cfg.report_min_account_age_s:
        return ()  # a throwaway account's report does not count
    reported = UserReported(user=target, reporter=cmd.reporter, reason=cmd.reason)
    if len(reporters) + 1 >= cfg.report_threshold:
        return (reported, UserBanned(user=target, until=now + cfg.ban_duration_s))
    return (reported,)


def _block(state: ChatState, cmd: BlockUser, now: float, cfg: RulesConfig) -> Events:
    target = other_user(state, cmd.user, cmd.blocked, "block")
    if state.blocks(cmd.user, target):
        return ()
    return (UserBlocked(user=cmd.user, blocked=target),)


def _unblock(state: ChatState, cmd: UnblockUser, now: float, cfg: RulesConfig) -> Events:
    target = other_user(state, cmd.user, cmd.blocked, "unblock")
    if not state.blocks(cmd.user, target):
        return ()
    return (UserUnblocked(user=cmd.user, blocked=target),)


DECIDERS: dict[type[Command], Decider] = {
    ReportUser: _report,
    BlockUser: _block,
    UnblockUser: _unblock,
}
