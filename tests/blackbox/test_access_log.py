"""What the live chat server writes to its log about requests: route patterns, no secrets."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.blackbox.support import live_server


def test_join_link_tokens_never_reach_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO), live_server(tmp_path / "data") as server:
        ann, cy = server.client(), server.client()
        ann.connect("ann")
        cy.connect("cy")
        room = ann.call("POST", "/rooms", {"name": "club"}).body["room"]["id"]
        token = ann.call("POST", f"/rooms/{room}/links").body["token"]
        assert cy.call("POST", f"/join/{token}").status == 202
        assert cy.call("GET", f"/join/{token}").status == 405
        assert cy.call("POST", f"/join/{token}x").status == 404
        assert ann.call("DELETE", f"/rooms/{room}/links/{token}").status == 204
    messages = [r.getMessage() for r in caplog.records]
    assert token[:16] not in caplog.text
    for line in (
        "POST /join/{token} 202 ",
        "GET /join/{token} 405 ",
        "POST /join/{token} 404 ",
        "DELETE /rooms/{room}/links/{token} 204 ",
    ):
        assert any(m.startswith(line) for m in messages), line
