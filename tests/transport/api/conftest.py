"""Fixtures of the API tests: the live contract scenario, run once for every test that reads it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.transport.api.contract import Contract, serve_contract


@pytest.fixture(scope="session")
def contract(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Contract]:
    yield from serve_contract(tmp_path_factory.mktemp("contract") / "data")
