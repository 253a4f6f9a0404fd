"""Property: no message reaches a user outside its room, by any read path.

Hypothesis generates users and a sequence of general and direct messages;
then every user reads through `/events`, `/connect` (`unread`, `general`)
and room history, and each message they get must be one they may see:
`general`, or a direct message they sent or received. Every message they
may see must also reach them through `/events`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.blackbox.support import Client, live_server

NAMES = ["ann", "bob", "cy", "dee"]

sends = st.lists(
    st.tuples(st.sampled_from(NAMES), st.none() | st.sampled_from(NAMES)),
    min_size=1,
    max_size=12,
)


@settings(max_examples=15, deadline=None)
@given(users=st.lists(st.sampled_from(NAMES), min_size=2, max_size=4, unique=True), plan=sends)
def test_messages_reach_exactly_their_rooms(
    users: list[str], plan: list[tuple[str, str | None]]
) -> None:
    with tempfile.TemporaryDirectory() as tmp, live_server(Path(tmp)) as server:
        clients = {name: server.client() for name in users}
        for name, client in clients.items():
            client.connect(name)
        allowed: dict[str, set[str]] = {name: set() for name in users}
        for number, (author, to) in enumerate(plan):
            if author not in clients:
                continue
            text = f"m{number}"
            if to is None:
                reply = clients[author].send(text)
                readers = set(users)
            else:
                reply = clients[author].send(text, to=to)
                readers = {author, to} if to in clients and to != author else set()
            assert reply.status in (201, 400, 404)
            if reply.status == 201:
                for reader in readers:
                    allowed[reader].add(text)
        for name, client in clients.items():
            seen = _read_everything(client)
            assert seen <= allowed[name], f"{name} saw {seen - allowed[name]}"
            polled = {
                e["message"]["text"]
                for e in client.events(after=0).body["events"]
                if e["type"] == "message.sent"
            }
            assert polled == allowed[name]


def _read_everything(client: Client) -> set[str]:
    texts: set[str] = set()
    page = client.events(after=0).body
    texts |= {e["message"]["text"] for e in page["events"] if e["type"] == "message.sent"}
    status = client.call("GET", "/status").body
    for room in status["rooms"]:
        history = client.call("GET", f"/rooms/{room['id']}/messages?limit=500").body
        texts |= {m["text"] for m in history["messages"]}
    for name in NAMES:  # every direct room id, also of other pairs
        for other in NAMES:
            reply = client.call("GET", f"/rooms/dm:{name}:{other}/messages")
            if reply.status == 200:
                texts |= {m["text"] for m in reply.body["messages"]}
            else:
                assert reply.status == 404
    fresh = client.connect(status["user"]["name"]).body
    texts |= {m["text"] for m in fresh["unread"]}
    texts |= {m["text"] for m in fresh["general"]["messages"]}
    return texts
