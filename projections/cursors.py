"""Which `cursor.moved` events the read model still depends on.

How this works: a `cursor.moved` folds into two things only, the user's
cursor (the highest one: cursors only move forward, so the user's last
event has it) and the last activity of the session that moved it (the
latest time wins). So once a later `cursor.moved` of the same user and the
same session exists, an earlier one changes nothing a fold ends with; and
once a session is closed, its record is gone and its events only count
through the user's cursor. `needed` is the offsets that still count: the
last event of every user and of every open session. Compaction may drop
every other `cursor.moved` below a snapshot without changing what a replay
folds to (`docs/architecture.md`, "Invariants").
"""

from __future__ import annotations

from attrs import define, field


@define(kw_only=True, getstate_setstate=False)
class CursorTrail:
    """The offsets of the last `cursor.moved` of each user and of each open session."""

    last_of_user: dict[str, int] = field(factory=dict)  # name key -> offset
    last_of_session: dict[int, int] = field(factory=dict)  # open session id -> offset

    def moved(self, offset: int, user_key: str, open_session: int | None) -> None:
        self.last_of_user[user_key] = offset
        if open_session is not None:
            self.last_of_session[open_session] = offset

    def session_closed(self, session: int) -> None:
        self.last_of_session.pop(session, None)

    def needed(self) -> set[int]:
        """The offsets of the `cursor.moved` events a replay still needs."""
        return {*self.last_of_user.values(), *self.last_of_session.values()}
