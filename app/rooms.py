"""Group rooms: creation, invitations, leaving, join links with owner approval.

Join links: the token (256 random bits) is shown once to the owner; the log
keeps only its SHA-256. Revoking a link stops new requests through it;
requests already pending stay pending and the owner still decides them.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable

from app.core import Core, Cursors
from app.render import room_view, room_views
from app.views import JoinRequestView, LinkView, RoomView, Session
from domain import (
    HISTORY_JOINED,
    HISTORY_SHARED,
    CreateLink,
    CreateRoom,
    DecideJoin,
    InviteMember,
    LeaveRoom,
    NotFoundError,
    RequestJoin,
    RevokeLink,
    ValidationError,
    check_room_name,
    check_user_name,
    require_owner,
)

MAX_INVITED_ON_CREATE = 100
MAX_TOKEN_CHARS = 128


def link_hash(token: str) -> str:
    """The SHA-256 (hex) of a join-link token: all the log keeps of it."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Rooms:
    """What users do with group rooms."""

    def __init__(
        self,
        core: Core,
        cursors: Cursors,
        *,
        token_factory: Callable[[], str] = lambda: secrets.token_hex(32),
    ) -> None:
        self._core = core
        self._cursors = cursors
        self._new_token = token_factory

    def _room_view(self, session: Session, room_id: str) -> RoomView:
        core = self._core
        room = core.model.rooms.by_id[room_id]
        cursor = self._cursors.cursor_of(session.user_key)
        unread = core.model.unread_count(
            room, session.user_key, cursor=cursor, upto=core.durable_head, now=core.now()
        )
        return room_view(core.model, room, session.user_key, unread)

    async def create(
        self, session: Session, *, name: object, members: object = None, history: object = None
    ) -> RoomView:
        """Create a private group room owned by the caller, with listed members.

        `history` is what a new member sees of the past: `shared` (the
        default: the unexpired history) or `joined` (only what follows
        their join). Raises ValidationError, NotFoundError.
        """
        name = check_room_name(name)
        if history is None:
            history = HISTORY_SHARED
        if history not in (HISTORY_SHARED, HISTORY_JOINED):
            raise ValidationError(
                f"history is {HISTORY_SHARED!r} or {HISTORY_JOINED!r}", field="history"
            )
        if members is None:
            members = []
        if not isinstance(members, list) or len(members) > MAX_INVITED_ON_CREATE:
            raise ValidationError(
                f"members must be a list of at most {MAX_INVITED_ON_CREATE} names",
                field="members",
            )
        names = tuple(check_user_name(m, field="members") for m in members)
        room_id = f"g{self._core.next_offset}"
        self._core.budgets.charge(session.user_key, "rooms")
        await self._core.execute(
            [
                CreateRoom(
                    owner=session.user, room=room_id, name=name, members=names, history=history
                )
            ]
        )
        return self._room_view(session, room_id)

    def list(self, session: Session) -> tuple[RoomView, ...]:
        core = self._core
        return room_views(
            core.model,
            session.user_key,
            cursor=self._cursors.cursor_of(session.user_key),
            upto=core.durable_head,
            now=core.now(),
        )

    async def invite(self, session: Session, room: str, *, name: object) -> tuple[bool, RoomView]:
        """Make a user a member at once (owner only); False when already a member.

        Raises ValidationError, NotFoundError, NotOwnerError.
        """
        user = check_user_name(name)
        self._core.budgets.charge(session.user_key, "rooms")
        entries = await self._core.execute([InviteMember(owner=session.user, room=room, user=user)])
        return bool(entries), self._room_view(session, room)

    async def leave(self, session: Session, room: str) -> None:
        """Leave a group room. Raises NotFoundError, ConflictError."""
        self._core.budgets.charge(session.user_key, "rooms")
        await self._core.execute([LeaveRoom(user=session.user, room=room)])

    async def create_link(self, session: Session, room: str) -> LinkView:
        """A new join link (owner only). Raises NotFoundError, NotOwnerError."""
        token = self._new_token()
        self._core.budgets.charge(session.user_key, "rooms")
        await self._core.execute(
            [CreateLink(owner=session.user, room=room, link_hash=link_hash(token))]
        )
        return LinkView(room=room, token=token)

    async def revoke_link(self, session: Session, room: str, token: str) -> None:
        """Revoke a join link (owner only). Raises NotFoundError, NotOwnerError."""
        self._core.budgets.charge(session.user_key, "rooms")
        await self._core.execute(
            [RevokeLink(owner=session.user, room=room, link_hash=link_hash(token))]
        )

    async def join(self, session: Session, token: str) -> JoinRequestView:
        """Ask to join through a link; status `member` when already in.

        Raises NotFoundError for an unknown or revoked link.
        """
        if not 1 <= len(token) <= MAX_TOKEN_CHARS:
            raise NotFoundError("this join link is unknown or revoked")
        hashed = link_hash(token)
        self._core.budgets.charge(session.user_key, "rooms")
        await self._core.execute([RequestJoin(user=session.user, link_hash=hashed)])
        model = self._core.model
        room = model.rooms.links.get(hashed)
        if room is None:  # revoked while we waited for the disk
            raise NotFoundError("this join link is unknown or revoked")
        if model.is_member(room, session.user):
            return JoinRequestView(room=room, user=session.user, status="member")
        request = model.rooms.by_id[room].requests[session.user_key]
        return JoinRequestView(
            room=room, user=session.user, status="pending", requested_at=request.requested_at
        )

    def requests(self, session: Session, room: str) -> tuple[JoinRequestView, ...]:
        """Pending join requests of a room (owner only).

        Raises NotFoundError, NotOwnerError.
        """
        require_owner(self._core.model, room, session.user)
        record = self._core.model.rooms.by_id[room]
        return tuple(
            JoinRequestView(room=room, user=r.user, status="pending", requested_at=r.requested_at)
            for r in sorted(record.requests.values(), key=lambda r: r.id)
        )

    async def decide(
        self, session: Session, room: str, user: str, *, approve: object
    ) -> JoinRequestView:
        """Approve or reject a pending request (owner only).

        Raises ValidationError, NotFoundError, NotOwnerError.
        """
        if not isinstance(approve, bool):
            raise ValidationError("approve must be true or false", field="approve")
        self._core.budgets.charge(session.user_key, "rooms")
        await self._core.execute(
            [DecideJoin(owner=session.user, room=room, user=user, approve=approve)]
        )
        name = self._core.model.user_name(user) or user
        return JoinRequestView(room=room, user=name, status="approved" if approve else "rejected")
