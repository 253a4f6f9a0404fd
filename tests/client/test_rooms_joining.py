"""Join links and requests: tokens in every form, and three users through `chat`
(in this process) against a real `chat-server`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from client.context import UsageError
from client.rooms_joining import join_token
from tests.client.real_server import ChatServer, Watcher, connect
from tests.client.support import ok, one_json, refused, run_chat


@given(
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1)
)
def test_a_join_token_is_found_in_every_form_it_is_given(token: str) -> None:
    for form in (token, f"/join/{token}", f"http://127.0.0.1:8000/join/{token}/", f" {token} "):
        assert join_token(form) == token


@pytest.mark.parametrize("text", ["", "   ", "/join/", "a b", "x?y"])
def test_not_a_join_token(text: str) -> None:
    with pytest.raises(UsageError):
        join_token(text)


def has_types(*types: str) -> Any:
    def done(events: list[dict[str, Any]]) -> bool:
        return set(types) <= {e["type"] for e in events}

    return done


def test_invite_link_request_approve_reject_between_three_users(
    tmp_path: Path, server: ChatServer
) -> None:
    alice, bob, carol = tmp_path / "alice", tmp_path / "bob", tmp_path / "carol"
    for home, name in ((alice, "alice"), (bob, "bob"), (carol, "carol")):
        connect(home, server, name)
    carol_watch = Watcher(carol)
    try:
        room = one_json(
            run_chat(alice, "rooms", "create", "Project X", "--members", "bob", "--json")
        )["room"]
        gid = room["id"]
        assert gid.startswith("g")
        assert room["owner"] == "alice"
        assert sorted(room["members"]) == ["alice", "bob"]
        assert "general" in ok(run_chat(alice, "rooms")).out  # plain `rooms` still lists
        listed = one_json(run_chat(bob, "rooms", "--json"))["rooms"]
        assert gid in {r["id"] for r in listed}
        refused(run_chat(carol, "history", "--room", gid))

        human_link = ok(run_chat(alice, "rooms", "link", gid))
        assert f"/join/{human_link.out.strip()}" in human_link.err
        link = one_json(run_chat(alice, "rooms", "link", gid, "--json"))
        assert link["path"] == f"/join/{link['token']}"
        refused(run_chat(bob, "rooms", "link", gid))  # only the owner

        asked = ok(run_chat(carol, "join", link["token"]))
        assert f"asked to join {gid}" in asked.out
        refused(run_chat(bob, "requests", gid))
        pending = one_json(run_chat(alice, "requests", gid, "--json"))["requests"]
        assert [(r["user"], r["status"]) for r in pending] == [("carol", "pending")]
        assert "carol asked to join" in ok(run_chat(alice, "requests", gid)).out

        rejected = one_json(run_chat(alice, "reject", gid, "carol", "--json"))["request"]
        assert rejected["status"] == "rejected"
        refused(run_chat(carol, "history", "--room", gid))
        refused(run_chat(alice, "approve", gid, "carol"))  # nothing pending any more

        # The link still works; this time as a path, and the owner approves.
        again = one_json(run_chat(carol, "join", link["path"], "--json"))["request"]
        assert again["status"] == "pending"
        approved = ok(run_chat(alice, "approve", gid, "carol"))
        assert "carol: approved" in approved.out
        ok(run_chat(carol, "send", "--room", gid, "hello project"))
        member = ok(run_chat(carol, "join", f"{server.url}/join/{link['token']}"))
        assert "already a member" in member.out

        events = carol_watch.wait_for(has_types("room.join_requested", "room.join_decided"))
        decided = [e["request"]["status"] for e in events if e["type"] == "room.join_decided"]
        assert decided[:1] == ["rejected"]
    finally:
        carol_watch.stop()

    # Revoking the link stops new requests; leaving works for members, not for the owner.
    revoked = one_json(run_chat(alice, "rooms", "revoke", gid, link["path"], "--json"))
    assert revoked == {"room": gid, "token": link["token"], "revoked": True}
    refused(run_chat(alice, "rooms", "revoke", gid, link["token"]))
    assert one_json(run_chat(bob, "leave", gid, "--json")) == {"room": gid, "left": True}
    refused(run_chat(bob, "join", link["token"]))
    refused(run_chat(alice, "leave", gid))  # the owner, while carol remains
    invited = ok(run_chat(alice, "rooms", "invite", gid, "bob"))
    assert "now a member" in invited.out
    assert "already" in ok(run_chat(alice, "rooms", "invite", gid, "bob")).out
    refused(run_chat(carol, "rooms", "invite", gid, "bob"))  # not the owner
    refused(run_chat(alice, "rooms", "invite", gid, "nobody"))
    refused(run_chat(alice, "rooms", "create", ""))
