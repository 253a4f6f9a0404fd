"""The route table: the router serves exactly what the document describes, and nothing else."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from app import Settings, open_service
from eventstore import MemoryEventLog
from tests.transport.api.contract import LATER_ENDPOINTS
from tests.transport.api.support import (
    CORE_ENDPOINTS,
    DOCUMENT,
    concrete_path,
    documented_operations,
    operations,
)
from transport.api import ChatApi, routes
from transport.api.routes import openapi_document, routed_operations
from transport.http import HttpError
from transport.server import Router


def test_the_document_describes_every_core_endpoint() -> None:
    # Later issues add endpoints; the router test below checks that each exists.
    described = {(method, path) for method, path, _ in operations(DOCUMENT)}
    assert described >= CORE_ENDPOINTS
    assert {(o.method, o.path) for o in routed_operations(Settings())} >= CORE_ENDPOINTS


def routed_methods(router: Router, path: str) -> set[str]:
    """The methods the router serves on a concrete path, from its 405 `Allow` header."""
    with pytest.raises(HttpError) as refused:
        router.resolve("TRACE", path)  # a method no endpoint of ours takes
    assert refused.value.status == 405, (path, refused.value)
    allow = dict(refused.value.headers)["Allow"]
    return {method.strip().lower() for method in allow.split(",")} - {"head"}


def test_the_router_serves_exactly_the_documented_operations(tmp_path: Path) -> None:
    async def scenario() -> Router:
        settings = Settings(scrypt_n=2**4, data_dir=tmp_path)  # uploads go under data_dir
        service = await open_service(settings, event_log=MemoryEventLog())
        try:
            return ChatApi(service, service.settings).router()
        finally:
            await service.close()

    router = asyncio.run(scenario())
    documented: dict[str, set[str]] = {}
    for method, path, _ in operations(DOCUMENT):
        documented.setdefault(path, set()).add(method)
    for path, methods in documented.items():
        concrete = concrete_path(path)
        assert routed_methods(router, concrete) == methods, path
        for method in methods:
            assert router.resolve(method.upper(), concrete).route.pattern == path


class RecordingRouter(Router):
    """A router that remembers what was added to it."""

    def __init__(self) -> None:
        super().__init__()
        self.added: set[tuple[str, str]] = set()

    def add(self, method: str, pattern: str, *args: Any, **kwargs: Any) -> None:
        self.added.add((method.lower(), pattern))
        super().add(method, pattern, *args, **kwargs)


def test_the_document_describes_exactly_the_routed_endpoints(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(routes, "Router", RecordingRouter)

    async def routed() -> set[tuple[str, str]]:
        settings = Settings(scrypt_n=2**4, data_dir=tmp_path)
        service = await open_service(settings, event_log=MemoryEventLog())
        try:
            router = ChatApi(service, service.settings).router()
        finally:
            await service.close()
        assert isinstance(router, RecordingRouter)
        return router.added

    added = asyncio.run(routed())
    assert added >= LATER_ENDPOINTS
    assert documented_operations(openapi_document()) == added
