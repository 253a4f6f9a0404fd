"""Rooms: `general`, group rooms, invitations, leaving, join links and requests."""

from __future__ import annotations

from domain.commands import (
    Command,
    CreateGeneral,
    CreateLink,
    CreateRoom,
    DecideJoin,
    InviteMember,
    LeaveRoom,
    RequestJoin,
    RevokeLink,
)
from domain.errors import (
    ConflictError,
    NotFoundError,
    NotOwnerError,
)
from domain.events import (
    JoinDecided,
    JoinRequested,
    LinkCreated,
    LinkRevoked,
    MemberJoined,
    MemberLeft,
    RoomCreated,
)
from domain.names import GENERAL, name_key
from domain.state import (
    ChatState,
    Decider,
    Events,
    RulesConfig,
    check_cap,
    check_not_blocked,
    is_member,
)


def _create_general(state: ChatState, _: CreateGeneral, now: float, cfg: RulesConfig) -> Events:
    if state.room_kind(GENERAL) is not None:
        return ()
    return (RoomCreated(room=GENERAL, kind="general", name=GENERAL, members=()),)


def require_owner(state: ChatState, room: str, user: str) -> str:
    """The owner's name if `user` owns the group room `room`.

    Raises NotFoundError (no such room, or a private one the user is not in),
    NotOwnerError. Commands and the owner-only queries share this check.
    """
    if state.room_kind(room) != "group" or not is_member(state, room, user):
        raise NotFoundError(f"there is no room {room!r}")
    owner = state.room_owner(room)
    if owner is None or name_key(owner) != name_key(user):
        raise NotOwnerError(f"only the owner of {room!r} may do this")
    return owner


def _create_room(state: ChatState, cmd: CreateRoom, now: float, cfg: RulesConfig) -> Events:
    if state.room_kind(cmd.room) is not None:
        raise ConflictError(f"room {cmd.room!r} exists")
    owned = state.counts(cmd.owner).owned_rooms
    check_cap(owned, cfg.max_rooms_per_owner, "rooms per owner")
    members = {name_key(cmd.owner): cmd.owner}
    for name in cmd.members:
        user = state.user_name(name)
        if user is None:
            raise NotFoundError(f"there is no user {name!r}")
        members.setdefault(name_key(user), user)
    return (
        RoomCreated(
            room=cmd.room,
            kind="group",
            name=cmd.name,
            owner=cmd.owner,
            members=tuple(members.values()),
        ),
    )


def _invite(state: ChatState, cmd: InviteMember, now: float, cfg: RulesConfig) -> Events:
    owner = require_owner(state, cmd.room, cmd.owner)
    user = state.user_name(cmd.user)
    if user is None:
        raise NotFoundError(f"there is no user {cmd.user!r}")
    if is_member(state, cmd.room, user):
        return ()
    check_not_blocked(state, user, owner, "invitations")
    return (MemberJoined(room=cmd.room, user=user, by=owner),)


def _leave(state: ChatState, cmd: LeaveRoom, now: float, cfg: RulesConfig) -> Events:
    kind = state.room_kind(cmd.room)
    if kind is None or not is_member(state, cmd.room, cmd.user):
        raise NotFoundError(f"you are not in a room {cmd.room!r}")
    if kind != "group":
        raise ConflictError(f"nobody leaves a {kind} room")
    owner = state.room_owner(cmd.room)
    is_owner = owner is not None and name_key(owner) == name_key(cmd.user)
    if is_owner and state.member_count(cmd.room) > 1:
        raise ConflictError("the owner cannot leave a room that still has other members")
    return (MemberLeft(room=cmd.room, user=cmd.user),)


def _create_link(state: ChatState, cmd: CreateLink, now: float, cfg: RulesConfig) -> Events:
    owner = require_owner(state, cmd.room, cmd.owner)
    links = state.counts(cmd.owner, cmd.room).room_links
    check_cap(links, cfg.max_links_per_room, "active links per room")
    return (LinkCreated(room=cmd.room, link_hash=cmd.link_hash, by=owner),)


def _revoke_link(state: ChatState, cmd: RevokeLink, now: float, cfg: RulesConfig) -> Events:
    owner = require_owner(state, cmd.room, cmd.owner)
    if state.link_room(cmd.link_hash) != cmd.room:
        raise NotFoundError("there is no such link to this room")
    return (LinkRevoked(room=cmd.room, link_hash=cmd.link_hash, by=owner),)


def _request_join(state: ChatState, cmd: RequestJoin, now: float, cfg: RulesConfig) -> Events:
    room = state.link_room(cmd.link_hash)
    if room is None:
        raise NotFoundError("this join link is unknown or revoked")
    if is_member(state, room, cmd.user) or state.join_pending(room, cmd.user):
        return ()
    return (JoinRequested(room=room, user=cmd.user, link_hash=cmd.link_hash),)


def _decide_join(state: ChatState, cmd: DecideJoin, now: float, cfg: RulesConfig) -> Events:
    owner = require_owner(state, cmd.room, cmd.owner)
    user = state.user_name(cmd.user)
    if user is None or not state.join_pending(cmd.room, user):
        raise NotFoundError(f"{cmd.user!r} has no pending request to join {cmd.room!r}")
    decided = JoinDecided(room=cmd.room, user=user, approved=cmd.approve, by=owner)
    if not cmd.approve:
        return (decided,)
    return (decided, MemberJoined(room=cmd.room, user=user, by=owner))


DECIDERS: dict[type[Command], Decider] = {
    CreateGeneral: _create_general,
    CreateRoom: _create_room,
    InviteMember: _invite,
    LeaveRoom: _leave,
    CreateLink: _create_link,
    RevokeLink: _revoke_link,
    RequestJoin: _request_join,
    DecideJoin: _decide_join,
}
