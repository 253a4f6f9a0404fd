"""Search: the unexpired messages a user may see that hold every word asked for.

How this works: every word of the query must be the start of a word of the
message (case and compatibility forms folded, `projections.search`). The
query word whose posting lists are shortest drives: its messages are walked
newest first, merged from the index's lists, and each one is kept if the
caller may read it (a member who could see it when it was sent, not
expired), it is in the room asked for, and its text holds the other words.
A search examines at most MAX_SCANNED messages: when it stops there, the
page may hold fewer than `limit` messages, and `next_before` says where to
go on. So a search costs at most that much whatever the index holds, and a
page of a query that many visible messages match costs about `limit` steps.
"""

from __future__ import annotations

from typing import Final

from app.core import Core
from app.inputs import check_limit
from app.messages import Messages
from app.render import message_view
from app.views import HistoryPage, Session
from domain import ValidationError
from projections import MessageRecord, query_words, text_words

MAX_QUERY_CHARS: Final = 200
MAX_QUERY_WORDS: Final = 8
MAX_SCANNED: Final = 20_000  # messages one search examines at most


def check_query(q: object) -> list[str]:
    """The words of a query (the first MAX_QUERY_WORDS). Raises ValidationError (field `q`)."""
    if not isinstance(q, str) or not 1 <= len(q) <= MAX_QUERY_CHARS:
        raise ValidationError(f"q has 1 to {MAX_QUERY_CHARS} characters", field="q")
    found = query_words(q)
    if not found:
        raise ValidationError("q holds no word (letters or digits) to look for", field="q")
    return found[:MAX_QUERY_WORDS]  # the rest would only narrow what the first ones find


class Search:
    """Full-text search over what a user may read."""

    def __init__(self, core: Core, messages: Messages) -> None:
        self._core = core
        self._messages = messages

    def search(
        self,
        session: Session,
        q: object,
        *,
        room: str | None = None,
        before: int | None = None,
        limit: int | None = None,
    ) -> HistoryPage:
        """A page of the matching messages, newest first.

        Raises ValidationError (`q`, `before`, `limit`), NotFoundError and
        NotMemberError (a `room` the caller is not in).
        """
        core = self._core
        settings = core.settings
        terms = check_query(q)
        limit = check_limit(limit, settings.history_limit_default, settings.history_limit_max)
        if before is not None and before < 1:
            raise ValidationError("before must be a positive message id", field="before")
        if room is not None:
            self._messages.member_room(session, room)
        model = core.model
        index = model.timeline.index
        terms.sort(key=index.size)
        driver, others = terms[0], terms[1:]
        upto, now = core.durable_head, core.now()
        stop = upto + 1 if before is None else min(before, upto + 1)
        found: list[MessageRecord] = []
        last = None
        for scanned, message_id in enumerate(index.newest_first(driver, stop), start=1):
            record = model.timeline.get(message_id, now)
            if (
                record is not None
                and (room is None or record.room == room)
                and model.saw_room_at(record.room, session.user_key, message_id)
                and _holds(record.text, others)
            ):
                found.append(record)
                if len(found) > limit:
                    break
            if scanned >= MAX_SCANNED:
                last = message_id
                break
        page = tuple(message_view(m) for m in found[:limit])
        if len(found) > limit:
            return HistoryPage(messages=page, next_before=page[-1].id)
        return HistoryPage(messages=page, next_before=last)


def _holds(text: str, prefixes: list[str]) -> bool:
    if not prefixes:
        return True
    held = text_words(text)
    return all(any(word.startswith(prefix) for word in held) for prefix in prefixes)
