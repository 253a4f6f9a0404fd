"""Group rooms over HTTP: the invite / link / request / approve / reject flow of three users."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.blackbox.support import LiveServer, fast_settings


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(fast_settings(tmp_path / "data")).start()
    yield live
    live.stop()


def test_the_whole_room_flow_with_every_refusal(server: LiveServer) -> None:
    ann, bob, cy = server.client(), server.client(), server.client()
    for client, name in ((ann, "ann"), (bob, "bob"), (cy, "cy")):
        client.connect(name)
    created = ann.call("POST", "/rooms", {"name": "Книжный клуб"})
    assert created.status == 201
    room = created.body["room"]
    assert (room["kind"], room["owner"], room["members"]) == ("group", "ann", ["ann"])
    rid = room["id"]
    assert ann.call("POST", "/rooms", {"name": ""}).status == 400
    assert ann.call("POST", "/rooms", {"name": "x", "members": ["ghost"]}).status == 404

    # invitations: owner only; the invited user is a member at once
    assert bob.call("POST", f"/rooms/{rid}/members", {"name": "cy"}).status == 404  # private
    assert ann.call("POST", f"/rooms/{rid}/members", {"name": "bob"}).status == 201
    assert ann.call("POST", f"/rooms/{rid}/members", {"name": "bob"}).status == 200
    assert ann.call("POST", f"/rooms/{rid}/members", {"name": "ghost"}).status == 404
    not_owner = bob.call("POST", f"/rooms/{rid}/members", {"name": "cy"})
    assert (not_owner.status, not_owner.error_code()) == (403, "not_owner")
    assert [r["id"] for r in bob.call("GET", "/rooms").body["rooms"]] == ["general", rid]

    # links: owner only, a token of 256 bits, join requests decided by the owner
    assert bob.call("POST", f"/rooms/{rid}/links").error_code() == "not_owner"
    link = ann.call("POST", f"/rooms/{rid}/links")
    assert link.status == 201
    token = link.body["token"]
    assert len(token) >= 32
    assert link.body["path"] == f"/join/{token}"
    asked = cy.call("POST", f"/join/{token}")
    assert asked.status == 202
    assert asked.body["request"] == {
        "room": rid,
        "user": "cy",
        "status": "pending",
        "requested_at": asked.body["request"]["requested_at"],
    }
    assert cy.call("POST", f"/join/{token}").status == 202  # not duplicated
    assert bob.call("POST", f"/join/{token}").status == 200  # already a member
    assert cy.call("POST", "/join/unknown").status == 404
    pending = ann.call("GET", f"/rooms/{rid}/requests").body["requests"]
    assert [r["user"] for r in pending] == ["cy"]
    assert bob.call("GET", f"/rooms/{rid}/requests").error_code() == "not_owner"
    assert cy.call("GET", f"/rooms/{rid}/messages").error_code() == "not_member"
    rejected = ann.call("POST", f"/rooms/{rid}/requests/cy", {"approve": False})
    assert rejected.body["request"]["status"] == "rejected"
    assert ann.call("POST", f"/rooms/{rid}/requests/cy", {"approve": True}).status == 404
    assert ann.call("POST", f"/rooms/{rid}/requests/cy", {"approve": "yes"}).status == 400
    cy.call("POST", f"/join/{token}")
    approved = ann.call("POST", f"/rooms/{rid}/requests/cy", {"approve": True})
    assert approved.body["request"]["status"] == "approved"
    cy_events = [e["type"] for e in cy.events(after=0).body["events"]]
    assert "room.join_decided" in cy_events
    assert "room.member_joined" in cy_events
    ann_events = [e["type"] for e in ann.events(after=0).body["events"]]
    assert ann_events.count("room.join_requested") == 2

    # revoking a link: unknown afterwards
    assert bob.call("DELETE", f"/rooms/{rid}/links/{token}").error_code() == "not_owner"
    assert ann.call("DELETE", f"/rooms/{rid}/links/{token}").status == 204
    assert ann.call("DELETE", f"/rooms/{rid}/links/{token}").status == 404
    dee = server.client()
    dee.connect("dee")
    assert dee.call("POST", f"/join/{token}").status == 404

    # messages and comments stay inside
    sent = cy.send("hello club", room=rid).body["message"]
    assert ann.call("POST", f"/messages/{sent['id']}/comments", {"text": "welcome"}).status == 201
    comments = bob.call("GET", f"/messages/{sent['id']}/comments").body["comments"]
    assert [c["text"] for c in comments] == ["welcome"]
    history = bob.call("GET", f"/rooms/{rid}/messages").body["messages"]
    assert history[0]["comments"] == 1

    # leaving
    assert ann.call("POST", f"/rooms/{rid}/leave").error_code() == "conflict"
    assert ann.call("POST", "/rooms/general/leave").error_code() == "conflict"
    assert bob.call("POST", f"/rooms/{rid}/leave").status == 204
    assert bob.call("GET", f"/rooms/{rid}/messages").error_code() == "not_member"
    assert bob.call("GET", f"/messages/{sent['id']}/comments").error_code() == "not_member"


def test_outsiders_see_nothing_of_a_room(server: LiveServer) -> None:
    ann, eve = server.client(), server.client()
    ann.connect("ann")
    eve.connect("eve")
    rid = ann.call("POST", "/rooms", {"name": "secret"}).body["room"]["id"]
    sent = ann.send("classified", room=rid).body["message"]
    ann.call("POST", f"/messages/{sent['id']}/comments", {"text": "shh"})
    assert eve.send("let me in", room=rid).error_code() == "not_member"
    assert eve.call("POST", f"/messages/{sent['id']}/comments", {"text": "x"}).status == 403
    assert eve.call("GET", f"/rooms/{rid}/messages").status == 403
    assert all(r["id"] != rid for r in eve.call("GET", "/rooms").body["rooms"])
    events = eve.events(after=0).body["events"]
    assert all(e.get("room") != rid for e in events)
    assert all("classified" not in str(e) and "shh" not in str(e) for e in events)
