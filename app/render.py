"""Read models to the views the service answers with (what the transport maps to JSON)."""

from __future__ import annotations

from collections.abc import Callable
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
    MessageDeleted,
    MessageEdited,
    MessageScheduled,
    MessageSent,
    RoomCreated,
    ScheduledCancelled,
    ScheduledFailed,
    ScheduledState,
    UserBanned,
    UserBlocked,
    UserUnblocked,
    event_type,
    name_key,
)
from projections import MessageRecord, ReadModel, RoomRecord


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
        edited=record.edited,
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


def room_view(model: ReadModel, room: RoomRecord, viewer_key: str, unread: int | None) -> RoomView:
    """A room as one user sees it: a direct room is named after the other user."""
    members = tuple(model.member_names(room))
    name = room.name
    if room.kind == "direct":
        name = next((m for m in members if name_key(m) != viewer_key), room.name)
    return RoomView(
        id=room.id,
        name=name,
        kind=room.kind,
        owner=room.owner,
        members=members,
        unread=unread,
        history=room.history if room.kind == "group" else None,
    )


def room_views(
    model: ReadModel, user_key: str, *, cursor: int, upto: int, now: float
) -> tuple[RoomView, ...]:
    """Every room the user is in, with its unread count."""
    return tuple(
        room_view(
            model,
            room,
            user_key,
            model.unread_count(room, user_key, cursor=cursor, upto=upto, now=now),
        )
        for room in model.visible_rooms(user_key)
    )


# -- events as `/events` shows them: one row per event type a client may see --------

_Fields = Callable[[ReadModel, int, float, Any, str], dict[str, Any]]


def _request(status: str | None = None) -> _Fields:
    def fields(m: ReadModel, o: int, ts: float, e: Any, viewer: str) -> dict[str, Any]:
        if status is None:  # a new request: pending since now
            request = JoinRequestView(room=e.room, user=e.user, status="pending", requested_at=ts)
        else:
            decided = "approved" if e.approved else "rejected"
            request = JoinRequestView(room=e.room, user=e.user, status=decided)
        return {"request": request}

    return fields


EVENT_FIELDS: dict[type[Any], _Fields] = {
    MessageSent: lambda m, o, ts, e, viewer: {"message": message_view(m.timeline.messages[o])},
    MessageCommented: lambda m, o, ts, e, viewer: {
        "comment": CommentView(
            id=o, message=e.message, room=e.room, author=e.author, text=e.text, ts=ts
        )
    },
    MessageEdited: lambda m, o, ts, e, viewer: {
        "message": message_view(m.timeline.messages[e.message])
    },
    MessageDeleted: lambda m, o, ts, e, viewer: {"message": e.message, "room": e.room},
    RoomCreated: lambda m, o, ts, e, viewer: {
        "room": room_view(m, m.rooms.by_id[e.room], viewer, None)
    },
    MemberJoined: lambda m, o, ts, e, viewer: {"room": e.room, "user": e.user},
    MemberLeft: lambda m, o, ts, e, viewer: {"room": e.room, "user": e.user},
    JoinRequested: _request(),
    JoinDecided: _request("decided"),
    MessageScheduled: lambda m, o, ts, e, viewer: {
        "scheduled": scheduled_view(m.schedule.by_id[o])
    },
    ScheduledCancelled: lambda m, o, ts, e, viewer: {"scheduled": e.scheduled},
    ScheduledFailed: lambda m, o, ts, e, viewer: {"scheduled": e.scheduled, "reason": e.reason},
    UserBanned: lambda m, o, ts, e, viewer: {"user": e.user, "until": e.until},
    UserBlocked: lambda m, o, ts, e, viewer: {"user": e.blocked},
    UserUnblocked: lambda m, o, ts, e, viewer: {"user": e.blocked},
    CursorMoved: lambda m, o, ts, e, viewer: {
        "user": e.user,
        "cursor": e.cursor,
        "session": e.session,
    },
}


def event_view(
    model: ReadModel, offset: int, ts: float, event: Event, viewer_key: str
) -> EventView:
    """An event as `/events` shows it to one user (who may see it)."""
    fields = EVENT_FIELDS.get(type(event))
    shown = {} if fields is None else fields(model, offset, ts, event, viewer_key)
    return EventView(offset=offset, ts=ts, type=event_type(event), fields=shown)
