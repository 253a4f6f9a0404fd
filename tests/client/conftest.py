"""Fixtures of the client's tests: a home of their own, and a real chat-server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.client.real_server import ChatServer


@pytest.fixture(autouse=True)
def _own_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the real ~/.config/chat, or takes CHAT_* from the caller."""
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))
    for name in ("CHAT_HOME", "CHAT_SERVER"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ChatServer]:
    """One real chat-server for the test, stopped after it."""
    chat_server = ChatServer(tmp_path / "data", tmp_path / "server.log")
    chat_server.start()
    try:
        yield chat_server
    finally:
        chat_server.stop()
