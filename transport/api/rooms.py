"""Rooms: group rooms, members, join links and join requests (`app.rooms`).

Handlers are declared with their OpenAPI operations; shapes and schemas are at the top.
"""

from __future__ import annotations

from typing import Any, Final

from app import MAX_INVITED_ON_CREATE, JoinRequestView, RoomView, Settings
from transport.api.endpoint import Api, endpoint
from transport.api.forms import HEX64_PATTERN, nullable, room_name_schema
from transport.api.jsonbody import optional_json
from transport.api.openapi import (
    VALIDATION,
    Failure,
    Operation,
    Reply,
    Schema,
    array_of,
    object_schema,
    path_parameter,
    ref,
)
from transport.server import Request, Response, empty, json_response, read_json

__all__ = [
    "MAX_ROOM_NAME_CHARS",
    "MAX_INVITED_ON_CREATE",
    "JOIN_STATUSES",
    "GENERAL_EXAMPLE",
    "room_json",
    "request_json",
    "schemas",
]

# A rule of domain.names, which does not export it; a test compares the two.
MAX_ROOM_NAME_CHARS: Final = 64
JOIN_STATUSES: Final = ("pending", "approved", "rejected", "member")
TAG: Final = "Rooms"

GENERAL_EXAMPLE: Final = {
    "id": "general",
    "name": "general",
    "kind": "general",
    "owner": None,
    "members": ["alice", "bob"],
    "unread": 1,
}
DIRECT_EXAMPLE: Final = dict(
    GENERAL_EXAMPLE, id="dm:alice:bob", name="bob", kind="direct", unread=0
)
_GROUP_EXAMPLE: Final = dict(
    GENERAL_EXAMPLE, id="g19", name="Проект Ω", kind="group", owner="alice", unread=0
)
_LINK_TOKEN_EXAMPLE: Final = "5be1a2c3" * 8
_LINK_EXAMPLE: Final = {
    "room": "g19",
    "token": _LINK_TOKEN_EXAMPLE,
    "path": f"/join/{_LINK_TOKEN_EXAMPLE}",
}
_PENDING_EXAMPLE: Final = {
    "room": "g19",
    "user": "carol",
    "status": "pending",
    "requested_at": 1763900000.123 + 9,
}


def room_json(room: RoomView) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": room.id,
        "name": room.name,
        "kind": room.kind,
        "owner": room.owner,
        "members": list(room.members),
    }
    if room.unread is not None:
        body["unread"] = room.unread
    if room.history is not None:
        body["history"] = room.history
    return body


def request_json(request: JoinRequestView) -> dict[str, Any]:
    body: dict[str, Any] = {"room": request.room, "user": request.user, "status": request.status}
    if request.requested_at is not None:
        body["requested_at"] = request.requested_at
    return body


def schemas(settings: Settings) -> dict[str, Schema]:
    """The component schemas of rooms and join requests."""
    room_fields: dict[str, Schema] = {
        "id": ref("RoomId"),
        "name": {
            "type": "string",
            "description": "For a direct room, the other participant's name.",
        },
        "kind": {"enum": ["general", "group", "direct"]},
        "owner": {"type": ["string", "null"], "description": "The owner of a group room."},
        "members": array_of(ref("Name"), description="Sorted by name."),
    }
    history = {
        "enum": ["shared", "joined"],
        "description": "What a new member sees of the past: `shared`, the unexpired "
        "history; `joined`, only what follows their join.",
    }
    return {
        "RoomInfo": {
            "type": "object",
            "description": "A room as announced by `room.created`.",
            "required": list(room_fields),
            "properties": {**room_fields, "history": {**history, "description": "Group rooms."}},
        },
        "Room": {
            "description": "A room the caller is a member of, with its unread count.",
            "allOf": [
                ref("RoomInfo"),
                object_schema(
                    ["unread"],
                    {
                        "unread": {
                            "type": "integer",
                            "minimum": 0,
                            "description": "Unexpired messages after the caller's cursor.",
                        }
                    },
                ),
            ],
            "examples": [GENERAL_EXAMPLE],
        },
        "CreateRoomRequest": object_schema(
            ["name"],
            {
                "name": room_name_schema(MAX_ROOM_NAME_CHARS),
                "members": nullable(
                    array_of(
                        ref("Name"),
                        maxItems=MAX_INVITED_ON_CREATE,
                        description="Users who become members at once (the caller always is).",
                    )
                ),
                "history": nullable({**history, "default": "shared"}),
            },
            examples=[{"name": "Проект Ω", "members": ["bob"]}],
        ),
        "RoomReply": object_schema(["room"], {"room": ref("Room")}),
        "RoomList": object_schema(["rooms"], {"rooms": array_of(ref("Room"))}),
        "InviteRequest": object_schema(
            ["name"], {"name": ref("Name")}, examples=[{"name": "carol"}]
        ),
        "JoinLink": object_schema(
            ["room", "token", "path"],
            {
                "room": ref("RoomId"),
                "token": {
                    "type": "string",
                    "pattern": "^[0-9a-f]{64}$",
                    "description": "256 random bits; shown only here (the server keeps a hash).",
                },
                "path": {"type": "string", "pattern": "^/join/[0-9a-f]{64}$"},
            },
            examples=[_LINK_EXAMPLE],
        ),
        "JoinRequest": object_schema(
            ["room", "user", "status"],
            {
                "room": ref("RoomId"),
                "user": ref("Name"),
                "status": {
                    "enum": list(JOIN_STATUSES),
                    "description": "`member`: the user already was one.",
                },
                "requested_at": {
                    "type": "number",
                    "description": "Unix s; on pending requests only.",
                },
            },
            examples=[_PENDING_EXAMPLE],
        ),
        "JoinRequestReply": object_schema(["request"], {"request": ref("JoinRequest")}),
        "JoinRequestList": object_schema(
            ["requests"],
            {"requests": array_of(ref("JoinRequest"), description="Pending, oldest first.")},
        ),
        "DecideRequest": object_schema(
            ["approve"], {"approve": {"type": "boolean"}}, examples=[{"approve": True}]
        ),
    }


# ------------------------------------------------------------------- endpoints

_ROOM: Final = path_parameter("room", ref("RoomId"), "A group room id.", "g19")
_TOKEN: Final = {"type": "string", "pattern": HEX64_PATTERN}
_NOT_OWNER: Final = Failure(status=403, codes={"not_owner": "the caller is not the room's owner"})


def _room_not_found(also: str = "") -> Failure:
    """The 404 of an owner's operation: rooms the caller is not in are not revealed."""
    return Failure(
        status=404,
        codes={"not_found": f"no such group room, or one the caller is not in{also}"},
    )


def _create_operation(settings: Settings) -> Operation:
    return Operation(
        operation_id="createRoom",
        tag=TAG,
        summary="Create a private group room",
        description="The caller becomes its owner; listed users become members at once. "
        "Its id is `g<offset>`.",
        body=ref("CreateRoomRequest"),
        body_example={"name": "Проект Ω", "members": ["bob"]},
        replies=(
            Reply(
                status=201,
                description="The room.",
                schema=ref("RoomReply"),
                example={"room": _GROUP_EXAMPLE},
            ),
        ),
        failures=(
            Failure(
                status=400,
                codes={
                    VALIDATION: f"`field` is `name` (not 1-{MAX_ROOM_NAME_CHARS} "
                    "characters, or holding control characters) or `members` (not a list "
                    f"of at most {MAX_INVITED_ON_CREATE} valid names)"
                },
            ),
            Failure(status=404, codes={"not_found": "a listed member does not exist"}),
        ),
    )


@endpoint(_create_operation)
async def create(api: Api, request: Request) -> Response:
    session = api.session(request)
    body = await read_json(request)
    room = await api.service.rooms.create(
        session, name=body.get("name"), members=body.get("members"), history=body.get("history")
    )
    return json_response(201, {"room": room_json(room)})


def _list_operation(settings: Settings) -> Operation:
    return Operation(
        operation_id="listRooms",
        tag=TAG,
        summary="The rooms I am in",
        description="Every room the caller is a member of, with unread counts.",
        replies=(
            Reply(
                status=200,
                description="The rooms.",
                schema=ref("RoomList"),
                example={"rooms": [_GROUP_EXAMPLE]},
            ),
        ),
    )


@endpoint(_list_operation)
async def list_rooms(api: Api, request: Request) -> Response:
    rooms = api.service.rooms.list(api.session(request))
    return json_response(200, {"rooms": [room_json(r) for r in rooms]})


def _invite_operation(settings: Settings) -> Operation:
    return Operation(
        operation_id="invite",
        tag=TAG,
        summary="Add a user to my room",
        description="Owner only; the user becomes a member at once.",
        parameters=(_ROOM,),
        body=ref("InviteRequest"),
        body_example={"name": "carol"},
        replies=(
            Reply(
                status=201,
                description="The user is now a member.",
                schema=ref("RoomReply"),
                example={"room": _GROUP_EXAMPLE},
            ),
            Reply(
                status=200,
                description="The user already was a member; nothing changed.",
                schema=ref("RoomReply"),
            ),
        ),
        failures=(
            Failure(status=400, codes={VALIDATION: "`field` is `name`"}),
            _NOT_OWNER,
            Failure(status=403, codes={"forbidden": "the user blocks the room's owner"}),
            _room_not_found(", or no such user"),
        ),
    )


@endpoint(_invite_operation)
async def invite(api: Api, request: Request) -> Response:
    session = api.session(request)
    body = await read_json(request)
    added, room = await api.service.rooms.invite(
        session, request.path_params["room"], name=body.get("name")
    )
    return json_response(201 if added else 200, {"room": room_json(room)})


def _leave_operation(settings: Settings) -> Operation:
    return Operation(
        operation_id="leave",
        tag=TAG,
        summary="Leave a group room",
        description="The body may be left out. The owner may leave only when nobody else "
        "is in the room.",
        parameters=(_ROOM,),
        body={"type": "object"},
        body_required=False,
        replies=(Reply(status=204, description="The caller left."),),
        failures=(
            Failure(status=404, codes={"not_found": "the caller is not in such a room"}),
            Failure(
                status=409,
                codes={
                    "conflict": "`general` and direct rooms cannot be left; the owner "
                    "cannot leave while other members remain"
                },
            ),
        ),
    )


@endpoint(_leave_operation)
async def leave(api: Api, request: Request) -> Response:
    session = api.session(request)
    await optional_json(request)
    await api.service.rooms.leave(session, request.path_params["room"])
    return empty()


def _create_link_operation(settings: Settings) -> Operation:
    return Operation(
        operation_id="createLink",
        tag=TAG,
        summary="Create a join link",
        description="Owner only; the body may be left out. Users who open the link ask to "
        "join, and the owner decides.",
        parameters=(_ROOM,),
        body={"type": "object"},
        body_required=False,
        replies=(
            Reply(
                status=201,
                description="The link; its token is shown only here.",
                schema=ref("JoinLink"),
                example=_LINK_EXAMPLE,
            ),
        ),
        failures=(_NOT_OWNER, _room_not_found()),
    )


@endpoint(_create_link_operation)
async def create_link(api: Api, request: Request) -> Response:
    session = api.session(request)
    await optional_json(request)
    link = await api.service.rooms.create_link(session, request.path_params["room"])
    body = {"room": link.room, "token": link.token, "path": f"/join/{link.token}"}
    return json_response(201, body)


def _revoke_link_operation(settings: Settings) -> Operation:
    return Operation(
        operation_id="revokeLink",
        tag=TAG,
        summary="Revoke a join link",
        description="Owner only. Requests already pending stay pending.",
        parameters=(
            _ROOM,
            path_parameter("token", _TOKEN, "The link's token.", _LINK_TOKEN_EXAMPLE),
        ),
        replies=(Reply(status=204, description="Revoked."),),
        failures=(_NOT_OWNER, _room_not_found(", or no such link to it")),
    )


@endpoint(_revoke_link_operation)
async def revoke_link(api: Api, request: Request) -> Response:
    session = api.session(request)
    params = request.path_params
    await api.service.rooms.revoke_link(session, params["room"], params["token"])
    return empty()


def _join_operation(settings: Settings) -> Operation:
    return Operation(
        operation_id="join",
        tag=TAG,
        summary="Ask to join a room through a link",
        description="The body may be left out. Asking again while pending changes nothing.",
        parameters=(
            path_parameter("token", _TOKEN, "The token of a join link.", _LINK_TOKEN_EXAMPLE),
        ),
        body={"type": "object"},
        body_required=False,
        replies=(
            Reply(
                status=202,
                description="The request waits for the owner.",
                schema=ref("JoinRequestReply"),
                example={"request": _PENDING_EXAMPLE},
            ),
            Reply(
                status=200,
                description="The caller already is a member (`status` is `member`).",
                schema=ref("JoinRequestReply"),
                example={"request": {"room": "g19", "user": "carol", "status": "member"}},
            ),
        ),
        failures=(Failure(status=404, codes={"not_found": "unknown or revoked link"}),),
    )


@endpoint(_join_operation)
async def join(api: Api, request: Request) -> Response:
    session = api.session(request)
    await optional_json(request)
    joined = await api.service.rooms.join(session, request.path_params["token"])
    status = 200 if joined.status == "member" else 202
    return json_response(status, {"request": request_json(joined)})


def _requests_operation(settings: Settings) -> Operation:
    return Operation(
        operation_id="joinRequests",
        tag=TAG,
        summary="Pending join requests of my room",
        description="Owner only; oldest first.",
        parameters=(_ROOM,),
        replies=(
            Reply(
                status=200,
                description="The pending requests.",
                schema=ref("JoinRequestList"),
                example={"requests": [_PENDING_EXAMPLE]},
            ),
        ),
        failures=(_NOT_OWNER, _room_not_found()),
    )


@endpoint(_requests_operation)
async def requests(api: Api, request: Request) -> Response:
    pending = api.service.rooms.requests(api.session(request), request.path_params["room"])
    return json_response(200, {"requests": [request_json(r) for r in pending]})


def _decide_operation(settings: Settings) -> Operation:
    return Operation(
        operation_id="decideJoin",
        tag=TAG,
        summary="Approve or reject a join request",
        description="Owner only. Approval makes the user a member.",
        parameters=(
            _ROOM,
            path_parameter("name", ref("Name"), "The user who asked to join.", "carol"),
        ),
        body=ref("DecideRequest"),
        body_example={"approve": True},
        replies=(
            Reply(
                status=200,
                description="Decided.",
                schema=ref("JoinRequestReply"),
                example={"request": {"room": "g19", "user": "carol", "status": "approved"}},
            ),
        ),
        failures=(
            Failure(status=400, codes={VALIDATION: "`field` is `approve` (not a boolean)"}),
            _NOT_OWNER,
            _room_not_found(", or no pending request from that user"),
        ),
    )


@endpoint(_decide_operation)
async def decide(api: Api, request: Request) -> Response:
    session = api.session(request)
    body = await read_json(request)
    params = request.path_params
    decided = await api.service.rooms.decide(
        session, params["room"], params["name"], approve=body.get("approve")
    )
    return json_response(200, {"request": request_json(decided)})
