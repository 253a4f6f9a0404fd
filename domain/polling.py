"""Polling: the read cursor only moves forward."""

from __future__ import annotations

from domain.commands import (
    Command,
    MoveCursor,
)
from domain.events import (
    CursorMoved,
)
from domain.state import (
    ChatState,
    Decider,
    Events,
    RulesConfig,
)


def _move_cursor(state: ChatState, cmd: MoveCursor, now: float, cfg: RulesConfig) -> Events:
    if cmd.cursor <= state.cursor_of(cmd.user):
        return ()
    return (CursorMoved(user=cmd.user, cursor=cmd.cursor, session=cmd.session),)


DECIDERS: dict[type[Command], Decider] = {
    MoveCursor: _move_cursor,
}
