"""Fixtures of the client's tests: a real chat-server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.client.real_server import ChatServer


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ChatServer]:
    """One real chat-server for the test, stopped after it."""
    chat_server = ChatServer(tmp_path / "data", tmp_path / "server.log")
    chat_server.start()
    try:
        yield chat_server
    finally:
        chat_server.stop()
