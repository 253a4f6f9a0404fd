"""Messages: send (now or at `send_at`), history, comments, and idempotent repeats.

An `Idempotency-Key` names one send of one user: a repeat returns what the
first gave (a message, or a scheduled message) and appends nothing, also
after a restart, for as long as the message lives.
"""

from __future__ import annotations

import contextlib

from app.core import Core
from app.inputs import (
    check_idempotency_key,
    check_limit,
    check_send_at,
    check_target,
    utf8_size,
)
from app.render import message_view, scheduled_view
from app.views import CommentsPage, CommentView, HistoryPage, MessageView, ScheduledView, Session
from domain import (
    CommentMessage,
    FileRef,
    InsufficientStorageError,
    MarkRoomRead,
    NotFoundError,
    NotMemberError,
    ScheduleMessage,
    SendMessage,
    UnavailableError,
    ValidationError,
    check_text,
)
from projections import RoomRecord


class Messages:
    """Send, history and comments."""

    def __init__(self, core: Core) -> None:
        self._core = core

    async def send(
        self,
        session: Session,
        *,
        text: object,
        room: object = None,
        to: object = None,
        send_at: object = None,
        idempotency_key: str | None = None,
    ) -> MessageView | ScheduledView:
        """Send a message to a room (default `general`) or to a user, now or at `send_at`.

        A `send_at` in the future schedules the message (a ScheduledView comes
        back); one in the past or now sends at once. Raises ValidationError,
        NotFoundError, NotMemberError, BannedError, RateLimitedError (the
        general window, or the user's budget of messages or of scheduling),
        InsufficientStorageError.
        """
        core = self._core
        text = check_text(text)
        room, to = check_target(room, to)
        at = None if send_at is None else check_send_at(send_at)
        if idempotency_key is not None:
            earlier = await self.earlier_result(session, idempotency_key)
            if earlier is not None:
                return earlier
        size = utf8_size(text)
        if at is not None and at > core.event_time():
            core.budgets.charge(session.user_key, "schedule", size=size)
            schedule = ScheduleMessage(
                author=session.user,
                text=text,
                send_at=at,
                room=room,
                to=to,
                idempotency_key=idempotency_key,
            )
            entries = await core.execute([schedule])
            return scheduled_view(core.model.schedule.by_id[entries[-1][0]])
        core.budgets.charge(session.user_key, "messages", size=size)
        return await self.send_now(
            session, text=text, room=room, to=to, idempotency_key=idempotency_key
        )

    async def send_now(
        self,
        session: Session,
        *,
        text: str,
        room: str | None,
        to: str | None,
        idempotency_key: str | None = None,
        file: FileRef | None = None,
    ) -> MessageView:
        """Send a checked text now, charging no budget (the caller did: a send, an upload).

        Raises the rules' errors (see `send`).
        """
        command = SendMessage(
            author=session.user,
            text=text,
            room=room,
            to=to,
            idempotency_key=idempotency_key,
            file=file,
        )
        entries = await self._core.execute([command])
        return message_view(self._core.model.timeline.messages[entries[-1][0]])

    async def earlier_result(
        self, session: Session, idempotency_key: str
    ) -> MessageView | ScheduledView | None:
        """What a send with this key from this user gave before, once durable.

        Raises ValidationError for a malformed key.
        """
        check_idempotency_key(idempotency_key)
        core = self._core
        key = (session.user_key, idempotency_key)
        earlier = core.model.timeline.by_key.get(key)
        if earlier is not None:
            await core.until_durable(earlier)
            return message_view(core.model.timeline.messages[earlier])
        scheduled = core.model.schedule.by_key.get(key)
        if scheduled is not None:
            await core.until_durable(scheduled)
            return scheduled_view(core.model.schedule.by_id[scheduled])
        return None

    async def history(
        self, session: Session, room: str, *, before: int | None, limit: int | None
    ) -> HistoryPage:
        """A page of a room's history, newest first; the newest page marks the room read.

        Viewing a room's newest page is reading it: up to its newest message,
        nothing in the room is unread for the user any more (`room.read`,
        written only when that moves the room's read mark). A full disk or an
        unreachable log leaves the mark where it was; the page is answered
        anyway. Raises NotFoundError, NotMemberError, ValidationError.
        """
        core = self._core
        settings = core.settings
        limit = check_limit(limit, settings.history_limit_default, settings.history_limit_max)
        if before is not None and before < 1:
            raise ValidationError("before must be a positive message id", field="before")
        record = self.member_room(session, room)
        upto = core.durable_head
        page, more = core.model.history(
            record,
            session.user_key,
            before=upto + 1 if before is None else before,
            limit=limit,
            upto=upto,
            now=core.now(),
        )
        messages = tuple(message_view(m) for m in page)
        if before is None and messages:
            await self._mark_read(session, room, messages[0].id)
        return HistoryPage(messages=messages, next_before=messages[-1].id if more else None)

    async def _mark_read(self, session: Session, room: str, upto: int) -> None:
        core = self._core
        if upto <= core.model.read_mark(session.user, room):
            return
        with contextlib.suppress(InsufficientStorageError, UnavailableError):
            await core.execute([MarkRoomRead(user=session.user, room=room, upto=upto)])

    def member_room(self, session: Session, room: str) -> RoomRecord:
        """A room the caller is a member of. Raises NotFoundError, NotMemberError."""
        record = self._core.model.rooms.by_id.get(room)
        member = record is not None and session.user_key in record.members
        if record is None or (record.kind == "direct" and not member):
            raise NotFoundError(f"there is no room {room!r}")
        if not member:
            raise NotMemberError(f"you are not a member of {room!r}")
        return record

    # -- comments ---------------------------------------------------------------------

    async def comment(self, session: Session, message: int, *, text: object) -> CommentView:
        """Comment on a message of a room the caller is in.

        Raises ValidationError, NotFoundError, NotMemberError, BannedError.
        """
        text = check_text(text)
        core = self._core
        core.budgets.charge(
            session.user_key, "comments", size=len(text.encode("utf-8", "surrogatepass"))
        )
        entries = await core.execute(
            [CommentMessage(author=session.user, message=message, text=text)]
        )
        offset, ts, _ = entries[-1]
        record = core.model.timeline.messages[message]
        return CommentView(
            id=offset, message=message, room=record.room, author=session.user, text=text, ts=ts
        )

    def comments(
        self,
        session: Session,
        message: int,
        *,
        after: int | None = None,
        limit: int | None = None,
    ) -> CommentsPage:
        """A page of a message's comments, oldest first, after the comment id `after`.

        Raises NotFoundError (unknown, expired, or not visible to the caller),
        NotMemberError, ValidationError (a bad `limit`).
        """
        core = self._core
        settings = core.settings
        limit = check_limit(limit, settings.history_limit_default, settings.history_limit_max)
        model = core.model
        record = model.readable_message(session.user_key, message, core.now())
        if record is None or message > core.durable_head:
            room = model.message_room(message, core.now())
            group = room is not None and model.room_kind(room) == "group"
            if group and room is not None and not model.is_member(room, session.user):
                raise NotMemberError("you are not a member of the message's room")
            raise NotFoundError(f"there is no message {message}")
        page = model.timeline.comments_after(
            message, after or 0, upto=core.durable_head, limit=limit + 1
        )
        comments = tuple(
            CommentView(
                id=c.id, message=message, room=record.room, author=c.author, text=c.text, ts=c.ts
            )
            for c in page[:limit]
        )
        more = len(page) > limit
        return CommentsPage(comments=comments, next=comments[-1].id if more else None)
