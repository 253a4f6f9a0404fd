"""What a replica holds: a bounded window of the stream, tokens of other replicas, snapshots."""

from __future__ import annotations

import asyncio
import re
import secrets
from pathlib import Path

import nats
import pytest

from eventstore.jetstream import FOLLOW_DELAY_VARIABLE
from tests.blackbox.support import Client
from tests.nats_support import NatsServer

from .support import ReplicaProcess, all_events, ok, same_head, wait_until

WINDOW = 64 * 1024  # the smallest --nats-window
SNAPSHOT_AT = re.compile(r"listening on .* snapshot=(\w+) replayed=(\d+)")


def connected(replica: ReplicaProcess, name: str) -> Client:
    client = replica.client()
    ok(client.connect(name))
    return client


def metric(replica: ReplicaProcess, name: str) -> float:
    reply = replica.client().call("GET", "/metrics")
    assert reply.status == 200, reply
    for line in reply.body.decode().splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"no {name} in /metrics")


def texts(client: Client) -> list[str]:
    return [e["message"]["text"] for e in all_events(client) if e["type"] == "message.sent"]


def started_from(replica: ReplicaProcess) -> tuple[str, int]:
    """(the snapshot offset or "none", events replayed) of the replica's last start."""
    found = SNAPSHOT_AT.findall(replica.log_tail())
    assert found, replica.log_tail()
    snapshot, replayed = found[-1]
    return snapshot, int(replayed)


@pytest.mark.unlimited_sends
@pytest.mark.replica_args("--nats-window", str(WINDOW))
def test_events_older_than_a_replicas_window_are_read_from_the_stream(
    replicas: list[ReplicaProcess], tmp_path: Path
) -> None:
    a, b = replicas
    ann = connected(a, "ann")
    sent = [f"{n:04d} " + "x" * 1500 for n in range(150)]  # about 3.5 windows of text
    for text in sent:
        ok(ann.send(text))
    same_head(replicas)
    late = ReplicaProcess(a.nats, a.stream, tmp_path / "late", "--nats-window", str(WINDOW))
    try:
        late.start()  # it reads the whole stream and keeps only the window
        for replica in (a, b, late):
            assert texts(replica.client(ann.token)) == sent  # from offset 0: all of them
            assert metric(replica, "chat_log_fetched_messages_total") > 0
            # The window and the rounds fetched for reads (a quarter, at least 1 MiB).
            assert metric(replica, "chat_log_window_bytes") <= WINDOW + 1024 * 1024
    finally:
        late.stop()


def test_a_token_from_one_replica_is_accepted_at_once_by_another_that_lags(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    # The writer answers /connect once NATS has acknowledged the session; a
    # replica that follows the stream later (here: each message 0.5 s late)
    # has not folded it when the client's next request reaches it. It
    # catches up with the stream before it would answer 401.
    stream = f"T{secrets.token_hex(6)}"
    writer = ReplicaProcess(nats_server, stream, tmp_path / "w")
    lagging = ReplicaProcess(
        nats_server, stream, tmp_path / "l", env={FOLLOW_DELAY_VARIABLE: "0.5"}
    )
    try:
        writer.start()
        assert "writer=True" in writer.log_tail()
        lagging.start()
        for n in range(3):
            token = connected(writer, f"user{n}").token
            assert lagging.client(token).call("GET", "/status").status == 200
        # A token no replica issued is still refused.
        assert lagging.client("not-a-token").call("GET", "/status").status == 401
    finally:
        lagging.stop()
        writer.stop()


def test_a_replica_restarts_from_its_own_snapshot_and_reads_only_the_tail(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    stream = f"T{secrets.token_hex(6)}"
    a = ReplicaProcess(nats_server, stream, tmp_path / "a")
    b = ReplicaProcess(nats_server, stream, tmp_path / "b")
    try:
        a.start()
        ann = connected(a, "ann")
        for n in range(10):
            ok(ann.send(f"m{n}"))
        a.stop()  # a clean stop writes a snapshot at the head into a's data directory
        written = re.findall(r"snapshot.written .* offset=(\d+)", a.log_tail())
        assert written, a.log_tail()
        head = int(written[-1])
        snapshot, replayed = started_from(b.start())
        assert snapshot == "none"  # b has none: the whole stream
        assert replayed >= head
        tail = b.client(ann.token)
        for n in range(10, 15):
            ok(tail.send(f"m{n}"))
        snapshot, replayed = started_from(a.start())
        assert snapshot == str(head)
        assert 0 < replayed <= a.health()["offset"] - head  # only what came after it
        assert texts(a.client(ann.token)) == [f"m{n}" for n in range(15)]
    finally:
        a.stop()
        b.stop()


def test_a_replica_snapshots_while_it_runs_and_starts_from_that_after_kill_9(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    stream = f"T{secrets.token_hex(6)}"
    replica = ReplicaProcess(nats_server, stream, tmp_path / "a", "--snapshot-every", "10")
    try:
        replica.start()
        ann = connected(replica, "ann")
        for n in range(12):
            ok(ann.send(f"m{n}"))
        # The snapshot child folds the stream and writes it (its log lines are relayed).
        wait_until(lambda: "snapshot.written" in replica.log_tail(), "a snapshot while running")
        written = int(re.findall(r"snapshot.written .* offset=(\d+)", replica.log_tail())[-1])
        replica.kill()  # no snapshot at shutdown: the one the child wrote is the newest
        assert started_from(replica.start())[0] == str(written)
        assert texts(replica.client(ann.token)) == [f"m{n}" for n in range(12)]
    finally:
        replica.stop()


def test_a_snapshot_of_another_log_is_refused_and_the_stream_is_read(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    stream = f"T{secrets.token_hex(6)}"
    replica = ReplicaProcess(nats_server, stream, tmp_path / "a")
    try:
        replica.start()
        ok(connected(replica, "ann").send("before the reset"))
        replica.stop()
        assert "snapshot.written" in replica.log_tail()
        asyncio.run(delete_stream(nats_server.url, stream))
        replica.start()  # a new stream of the same name: another genesis, another log id
        assert started_from(replica)[0] == "none"
        assert "snapshot.refused" in replica.log_tail()
        bob = connected(replica, "bob")
        assert texts(bob) == []
        ok(connected(replica, "ann").send("after"))
    finally:
        replica.stop()


async def delete_stream(url: str, stream: str) -> None:
    nc = await nats.connect(url)
    try:
        await nc.jetstream().delete_stream(stream)
    finally:
        await nc.close()
