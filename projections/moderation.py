"""Reports, bans and the `general` rate windows, folded from event times.

A rate window opens with a user's first message (or comment) to `general`
after the previous window ended and lasts `rate_window_s`; the rules refuse
a message or comment when the window holds `rate_limit` of them. A ban clears the reports that
caused it; reports made during a ban are not recorded by the rules at all.
"""

from __future__ import annotations

from attrs import define, field

from domain import UserBanned, UserReported, name_key


@define(kw_only=True, getstate_setstate=False)
class Moderation:
    rate_window_s: float
    windows: dict[str, tuple[float, int]] = field(factory=dict)  # name key -> start, count
    reporters: dict[str, set[str]] = field(factory=dict)  # target key -> reporter keys
    bans: dict[str, float] = field(factory=dict)  # name key -> until

    def sent_to_general(self, author: str, ts: float) -> None:
        key = name_key(author)
        window = self.windows.get(key)
        if window is None or ts >= window[0] + self.rate_window_s:
            self.windows[key] = (ts, 1)
        else:
            self.windows[key] = (window[0], window[1] + 1)

    def reported(self, event: UserReported) -> None:
        self.reporters.setdefault(name_key(event.user), set()).add(name_key(event.reporter))

    def banned(self, event: UserBanned) -> None:
        key = name_key(event.user)
        self.bans[key] = event.until
        self.reporters.pop(key, None)
