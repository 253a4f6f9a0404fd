"""Read models to the views the service answers with (what the transport maps to JSON)."""

from __future__ import annotations

from typing import Any

from app.views import (
    CommentView,
    EventView,
    FileView,
    JoinRequestView,
    MessageView,
    RoomView,
    ScheduledView,
)
from domain import (
    CursorMoved,
    Event,
    JoinDecided,
    JoinRequested,
    MemberJoined,
    MemberLeft,
    MessageCommented,
    MessageScheduled,
    MessageSent,
    RoomCreated,
    ScheduledCancelled,
    ScheduledFailed,
    ScheduledState,
    UserBanned,
    event_type,
    name_key,
)
from projections import ChatView, MessageRecord, RoomRecord


def message_view(record: MessageRecord) -> MessageView:
    file = record.file
    return MessageView(
        id=record.id,
        room=record.room,
        author=record.author,
        text=record.text,
        ts=record.ts,
        comments=record.comments,
        scheduled=record.scheduled,
        file=None
        if file is None
        else FileView(
            name=file.name, size=file.size, content_type=file.content_type, sha256=file.sha256
        ),
    )


def scheduled_view(state: ScheduledState) -> ScheduledView:
    return ScheduledView(
        id=state.id,
        author=state.author,
        text=state.text,
        send_at=state.send_at,
        status=state.status,
        room=state.room,
        to=state.to,
    )


def room_view(view: ChatView, room: RoomRecord, viewer_key: str, unread: int | None) -> RoomView:
    """A room as one user sees it: a direct room is named after the other user."""
    members = tuple(view.member_names(room))
    name = room.name
    if room.kind == "direct":
        name = next((m for m in members if name_key(m) != viewer_key), room.name)
    return RoomView(
        id=room.id, name=name, kind=room.kind, owner=room.owner, members=members, unread=unread
    )


def room_views(
    view: ChatView, user_key: str, *, cursor: int, upto: int, now: float
) -> tuple[RoomView, ...]:
    """Every room the user is in, with its unread count."""
    return tuple(
        room_view(
            view,
            room,
            user_key,
            view.unread_count(room, user_key, cursor=cursor, upto=upto, now=now),
        )
        for room in view.visible_rooms(user_key)
    )


def event_view(view: ChatView, offset: int, ts: float, event: Event, viewer_key: str) -> EventView:
    """An event as `/events` shows it to one user (who may see it)."""
    fields: dict[str, Any]
    match event:
        case MessageSent():
            fields = {"message": message_view(view.timeline.messages[offset])}
        case MessageCommented(message=message, room=room, author=author, text=text):
            comment = CommentView(
                id=offset, message=message, room=room, author=author, text=text, ts=ts
            )
            fields = {"comment": comment}
        case RoomCreated(room=room):
            fields = {"room": room_view(view, view.rooms.by_id[room], viewer_key, None)}
        case MemberJoined(room=room, user=user) | MemberLeft(room=room, user=user):
            fields = {"room": room, "user": user}
        case JoinRequested(room=room, user=user):
            fields = {
                "request": JoinRequestView(room=room, user=user, status="pending", requested_at=ts)
            }
        case JoinDecided(room=room, user=user, approved=approved):
            status = "approved" if approved else "rejected"
            fields = {"request": JoinRequestView(room=room, user=user, status=status)}
        case MessageScheduled():
            fields = {"scheduled": scheduled_view(view.schedule.by_id[offset])}
        case ScheduledCancelled(scheduled=scheduled):
            fields = {"scheduled": scheduled}
        case ScheduledFailed(scheduled=scheduled, reason=reason):
            fields = {"scheduled": scheduled, "reason": reason}
        case UserBanned(user=user, until=until):
            fields = {"user": user, "until": until}
        case CursorMoved(user=user, cursor=cursor, session=by_session):
            fields = {"user": user, "cursor": cursor, "session": by_session}
        case _:
            fields = {}
    return EventView(offset=offset, ts=ts, type=event_type(event), fields=fields)
