"""Scheduled messages: scheduling, cancelling, and delivery when due."""

from __future__ import annotations

from domain.commands import (
    CancelScheduled,
    Command,
    DeliverScheduled,
    ScheduleMessage,
    SendMessage,
)
from domain.errors import (
    ConflictError,
    DomainError,
    NotFoundError,
    ValidationError,
)
from domain.events import (
    MessageScheduled,
    ScheduledCancelled,
    ScheduledFailed,
)
from domain.messages import decide_send, target_room
from domain.names import name_key
from domain.state import (
    ChatState,
    Decider,
    Events,
    RulesConfig,
    check_cap,
    check_not_banned,
    check_text_length,
)


def _schedule(state: ChatState, cmd: ScheduleMessage, now: float, cfg: RulesConfig) -> Events:
    check_text_length(cmd.text, cfg)
    check_not_banned(state, cmd.author, now)
    if cmd.send_at > now + cfg.max_schedule_ahead_s:
        raise ValidationError(
            f"send_at is more than {cfg.max_schedule_ahead_s / 86400:g} days ahead",
            field="send_at",
        )
    target_room(state, cmd.author, cmd.room, cmd.to)
    pending = state.counts(cmd.author).pending_scheduled
    check_cap(pending, cfg.max_pending_scheduled_per_user, "pending scheduled messages")
    return (
        MessageScheduled(
            author=cmd.author,
            text=cmd.text,
            send_at=cmd.send_at,
            room=cmd.room if cmd.to is None else None,
            to=cmd.to,
            idempotency_key=cmd.idempotency_key,
        ),
    )


def _cancel(state: ChatState, cmd: CancelScheduled, now: float, cfg: RulesConfig) -> Events:
    scheduled = state.scheduled(cmd.scheduled)
    if scheduled is None or name_key(scheduled.author) != name_key(cmd.author):
        raise NotFoundError(f"you have no scheduled message {cmd.scheduled}")
    if scheduled.status != "pending":
        raise ConflictError(f"scheduled message {cmd.scheduled} is already {scheduled.status}")
    return (ScheduledCancelled(scheduled=cmd.scheduled, author=scheduled.author),)


def _deliver(state: ChatState, cmd: DeliverScheduled, now: float, cfg: RulesConfig) -> Events:
    scheduled = state.scheduled(cmd.scheduled)
    if scheduled is None or scheduled.status != "pending":
        return ()
    send = SendMessage(
        author=scheduled.author, text=scheduled.text, room=scheduled.room, to=scheduled.to
    )
    try:
        return decide_send(state, send, now, cfg, scheduled=scheduled.id)
    except DomainError as refused:  # the rules in force now say no: record why
        return (
            ScheduledFailed(scheduled=scheduled.id, author=scheduled.author, reason=refused.code),
        )


DECIDERS: dict[type[Command], Decider] = {
    ScheduleMessage: _schedule,
    CancelScheduled: _cancel,
    DeliverScheduled: _deliver,
}
