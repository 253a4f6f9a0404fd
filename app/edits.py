"""Edits: changing the text of one's own message, and deleting it.

Both are the author's alone (`domain.rules`). An edit is a send of new
text: the rules of `general`'s window and the messages budget apply as to a
send. A delete forgets the message at once, with its comments and its file;
it is charged to the messages budget too (one request, no bytes).
"""

from __future__ import annotations

from app.core import Core
from app.inputs import utf8_size
from app.render import message_view
from app.views import MessageView, Session
from domain import DeleteMessage, EditMessage, check_text


class Edits:
    """Edit and delete one's own messages."""

    def __init__(self, core: Core) -> None:
        self._core = core

    async def edit(self, session: Session, message: int, *, text: object) -> MessageView:
        """Replace the text of one's own message; it gains `edited`.

        Raises ValidationError, NotFoundError (unknown, expired or not
        visible), ForbiddenError (another user's), BannedError,
        RateLimitedError (the general window, or the messages budget),
        InsufficientStorageError.
        """
        text = check_text(text)
        core = self._core
        core.budgets.charge(session.user_key, "messages", size=utf8_size(text))
        await core.execute([EditMessage(author=session.user, message=message, text=text)])
        return message_view(core.model.timeline.messages[message])

    async def delete(self, session: Session, message: int) -> None:
        """Delete one's own message, with its comments and its file.

        Raises NotFoundError, ForbiddenError, RateLimitedError (the messages
        budget), InsufficientStorageError.
        """
        core = self._core
        core.budgets.charge(session.user_key, "messages")
        await core.execute([DeleteMessage(author=session.user, message=message)])
