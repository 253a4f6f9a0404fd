"""The `replicas` fixture: real `chat-server --nats` processes on a new stream of their own."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.nats_support import NatsServer

from .support import ReplicaProcess


@pytest.fixture
def replicas(
    nats_server: NatsServer, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[list[ReplicaProcess]]:
    """`count` replicas (the test's `replica_count` marker, 2 by default) on a new stream."""
    marker = request.node.get_closest_marker("replica_count")
    count = marker.args[0] if marker else 2
    unlimited = request.node.get_closest_marker("unlimited_sends") is not None
    extra: tuple[str, ...] = ()
    if unlimited:
        extra += ("--rate-limit", "1000000", "--budget-messages", "1000000/m")
    if args := request.node.get_closest_marker("replica_args"):
        extra += tuple(args.args)
    stream = f"T{secrets.token_hex(6)}"
    started: list[ReplicaProcess] = []
    try:
        started.extend(
            ReplicaProcess(nats_server, stream, tmp_path / f"r{n}", *extra).start()
            for n in range(count)
        )
        yield started
    finally:
        for replica in started:
            replica.stop()
