"""Property: no message reaches a user outside its room, by any read path.

Hypothesis generates users and a sequence of actions: messages to `general`,
direct messages, group rooms created with members, invitations, leaving, and
messages and comments in those rooms. A model follows who was a member when.
Then every user reads through `/events`, `/connect` (`unread`, `general`),
room listings, history and comment lists, and everything they get must be
something they may see: `general`, their direct messages, and what was said in
a room they are in, since they joined. What they may see must also reach
them through `/events`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.blackbox.support import Client, live_server

NAMES = ["ann", "bob", "cy", "dee"]

actions = st.lists(
    st.one_of(
        st.tuples(st.just("general"), st.sampled_from(NAMES), st.none()),
        st.tuples(st.just("direct"), st.sampled_from(NAMES), st.sampled_from(NAMES)),
        st.tuples(st.just("create"), st.sampled_from(NAMES), st.sampled_from(NAMES)),
        st.tuples(st.just("invite"), st.integers(0, 2), st.sampled_from(NAMES)),
        st.tuples(st.just("leave"), st.integers(0, 2), st.sampled_from(NAMES)),
        st.tuples(st.just("room"), st.integers(0, 2), st.sampled_from(NAMES)),
        st.tuples(st.just("comment"), st.integers(0, 20), st.sampled_from(NAMES)),
    ),
    min_size=1,
    max_size=25,
)


class Model:
    """Who may see what, followed alongside the real server."""

    def __init__(self, users: list[str]) -> None:
        self.users = users
        self.rooms: list[tuple[str, str]] = []  # (id, owner)
        self.members: dict[str, set[str]] = {}
        self.said: dict[str, list[tuple[str, frozenset[str]]]] = {}  # room -> (text, members)
        self.messages: list[tuple[int, str]] = []  # (id, room)
        self.direct: dict[str, set[str]] = {u: set() for u in users}
        self.general: set[str] = set()

    def allowed(self, user: str) -> set[str]:
        seen = set(self.general) | self.direct[user]
        for room, lines in self.said.items():
            if user in self.members[room]:
                seen |= {text for text, members in lines if user in members}
        return seen


@settings(max_examples=15, deadline=None)
@given(users=st.lists(st.sampled_from(NAMES), min_size=2, max_size=4, unique=True), plan=actions)
def test_messages_reach_exactly_their_rooms(
    users: list[str], plan: list[tuple[str, object, object]]
) -> None:
    with tempfile.TemporaryDirectory() as tmp, live_server(Path(tmp)) as server:
        clients = {name: server.client() for name in users}
        for name, client in clients.items():
            client.connect(name)
        model = Model(users)
        for number, (kind, first, second) in enumerate(plan):
            _act(clients, model, f"m{number}", kind, first, second)
        for name, client in clients.items():
            allowed = model.allowed(name)
            seen = _read_everything(client, name, model)
            assert seen <= allowed, f"{name} saw {seen - allowed}"
            polled = {
                e["message"]["text"]
                for e in client.events(after=0).body["events"]
                if e["type"] == "message.sent"
            }
            assert polled == allowed


def _act(
    clients: dict[str, Client], model: Model, text: str, kind: str, first: object, second: object
) -> None:
    if kind == "general" and first in clients:
        assert clients[str(first)].send(text).status == 201
        model.general.add(text)
    elif kind == "direct" and first in clients:
        reply = clients[str(first)].send(text, to=str(second))
        if second in clients and second != first:
            assert reply.status == 201
            model.direct[str(first)].add(text)
            model.direct[str(second)].add(text)
        else:
            assert reply.status in (400, 404)
    elif kind == "create" and first in clients:
        owner = str(first)
        members = [str(second)] if second in clients else []
        reply = clients[owner].call("POST", "/rooms", {"name": text, "members": members})
        assert reply.status == 201
        room = reply.body["room"]["id"]
        model.rooms.append((room, owner))
        model.members[room] = {owner, *members}
        model.said[room] = []
    elif (
        kind in ("invite", "leave", "room") and isinstance(first, int) and first < len(model.rooms)
    ):
        room, owner = model.rooms[first]
        user = str(second)
        if user not in clients:
            return
        if kind == "invite":
            reply = clients[owner].call("POST", f"/rooms/{room}/members", {"name": user})
            if owner in model.members[room]:
                assert reply.status in (200, 201)
                model.members[room].add(user)
            else:
                assert reply.status == 404
        elif kind == "leave":
            reply = clients[user].call("POST", f"/rooms/{room}/leave")
            if reply.status == 204:
                model.members[room].discard(user)
            else:
                assert reply.status in (404, 409)
        else:
            reply = clients[user].send(text, room=room)
            if user in model.members[room]:
                assert reply.status == 201
                model.said[room].append((text, frozenset(model.members[room])))
                model.messages.append((reply.body["message"]["id"], room))
            else:
                assert reply.status == 403
    elif kind == "comment" and isinstance(first, int) and first < len(model.messages):
        message, room = model.messages[first]
        author = str(second)
        if author in clients:
            reply = clients[author].call("POST", f"/messages/{message}/comments", {"text": text})
            assert reply.status in (201, 403, 404)


def _read_everything(client: Client, name: str, model: Model) -> set[str]:
    texts: set[str] = set()
    page = client.events(after=0).body
    texts |= {e["message"]["text"] for e in page["events"] if e["type"] == "message.sent"}
    for event in page["events"]:
        if event["type"] == "message.commented":
            room = event["comment"]["room"]
            assert name in model.members.get(room, {name}), f"{name} got a comment of {room}"
    for room in client.call("GET", "/rooms").body["rooms"]:
        if room["kind"] == "group":
            assert name in model.members[room["id"]]
        history = client.call("GET", f"/rooms/{room['id']}/messages?limit=500").body
        texts |= {m["text"] for m in history["messages"]}
    for room, _ in model.rooms:  # also rooms the user is not in
        reply = client.call("GET", f"/rooms/{room}/messages")
        if reply.status == 200:
            texts |= {m["text"] for m in reply.body["messages"]}
        else:
            assert name not in model.members[room]
            assert reply.status == 403
    for message, room in model.messages:
        reply = client.call("GET", f"/messages/{message}/comments")
        if name not in model.members[room]:
            assert reply.status in (403, 404)
    for a in NAMES:  # every direct room id, also of other pairs
        for b in NAMES:
            reply = client.call("GET", f"/rooms/dm:{a}:{b}/messages")
            if reply.status == 200:
                texts |= {m["text"] for m in reply.body["messages"]}
            else:
                assert reply.status == 404
    fresh = client.connect(name).body
    texts |= {m["text"] for m in fresh["unread"]}
    texts |= {m["text"] for m in fresh["general"]["messages"]}
    return texts
