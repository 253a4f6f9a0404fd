"""Time rules over HTTP: 429 with Retry-After, 403 banned with until, 202 scheduled."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.blackbox.support import LiveServer, fast_settings


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    settings = fast_settings(
        tmp_path / "data", rate_limit=2, rate_window_s=3600.0, report_threshold=3
    )
    live = LiveServer(settings).start()
    yield live
    live.stop()


def test_the_rate_limit_answers_429_with_retry_after(server: LiveServer) -> None:
    ann = server.client()
    ann.connect("ann")
    server.client().connect("bob")
    assert ann.send("one").status == 201
    assert ann.send("two").status == 201
    limited = ann.send("three")
    assert (limited.status, limited.error_code()) == (429, "rate_limited")
    retry_after = limited.body["error"]["retry_after"]
    assert 3500 < retry_after <= 3600
    assert int(limited.headers["retry-after"]) == pytest.approx(retry_after, abs=1)
    assert ann.send("direct is fine", to="bob").status == 201


def test_three_reports_ban_from_sending_and_tell_the_user(server: LiveServer) -> None:
    troll = server.client()
    troll.connect("troll")
    for name in ("a", "b"):
        reporter = server.client()
        reporter.connect(name)
        assert reporter.call("POST", "/users/troll/report", {"reason": "spam"}).status == 202
    last = server.client()
    last.connect("c")
    assert last.call("POST", "/users/troll/report").body["banned"] is True
    assert last.call("POST", "/users/c/report").status == 400
    assert last.call("POST", "/users/ghost/report").status == 404
    refused = troll.send("hi")
    assert (refused.status, refused.error_code()) == (403, "banned")
    assert refused.body["error"]["until"] > time.time()
    banned = [e for e in troll.events(after=0).body["events"] if e["type"] == "user.banned"]
    assert len(banned) == 1


def test_scheduled_messages_over_http(server: LiveServer) -> None:
    ann, bob = server.client(), server.client()
    ann.connect("ann")
    head = bob.connect("bob").body["offset"]
    soon = ann.call("POST", "/send", {"text": "soon", "send_at": time.time() + 0.5})
    assert soon.status == 202
    scheduled = soon.body["scheduled"]
    assert scheduled["status"] == "pending"
    later = ann.call("POST", "/send", {"text": "later", "to": "bob", "send_at": time.time() + 900})
    listed = ann.call("GET", "/scheduled").body["scheduled"]
    assert [s["id"] for s in listed] == [scheduled["id"], later.body["scheduled"]["id"]]
    assert bob.call("DELETE", f"/scheduled/{scheduled['id']}").status == 404
    assert ann.call("DELETE", f"/scheduled/{later.body['scheduled']['id']}").status == 204
    assert ann.call("DELETE", f"/scheduled/{later.body['scheduled']['id']}").status == 409
    assert ann.call("DELETE", "/scheduled/abc").status == 404
    page = bob.events(after=head, timeout_s=10).body
    delivered = [e["message"] for e in page["events"] if e["type"] == "message.sent"]
    assert [(m["text"], m["scheduled"]) for m in delivered] == [("soon", scheduled["id"])]
    assert ann.call("GET", "/scheduled").body["scheduled"] == []
    far = ann.call("POST", "/send", {"text": "x", "send_at": time.time() + 40 * 86400})
    assert far.status == 400
