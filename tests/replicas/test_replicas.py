"""Two and three `chat-server` replicas on one JetStream stream, as users see them over HTTP."""

from __future__ import annotations

import http.client
import json
import secrets
import threading
from pathlib import Path

import pytest

from tests.blackbox.support import Client
from tests.nats_support import NatsServer, require_nats_server

from .support import ReplicaProcess, digest, ok, same_head, wait_until


def connected(replica: ReplicaProcess, name: str) -> Client:
    client = replica.client()
    ok(client.connect(name))
    return client


def test_interleaved_commands_on_every_replica_converge(replicas: list[ReplicaProcess]) -> None:
    a, b = replicas
    ann, bob = connected(a, "ann"), connected(b, "bob")
    room = ok(ann.call("POST", "/rooms", {"name": "x", "members": ["bob"]})).body["room"]["id"]
    for n in range(10):
        ok(ann.send(f"ann {n}"))
        ok(bob.send(f"bob {n}", room=room))
        ok(bob.send(f"to ann {n}", to="ann"))
    same_head(replicas)
    seen_by_ann = {digest(r.client(ann.token), ["general", room]) for r in replicas}
    seen_by_bob = {digest(r.client(bob.token), ["general", room]) for r in replicas}
    assert len(seen_by_ann) == len(seen_by_bob) == 1
    assert {r.health()["log"] for r in replicas} == {ann.call("GET", "/status").body["log"]}


def test_a_name_registered_at_once_on_two_replicas_is_one_account(
    replicas: list[ReplicaProcess],
) -> None:
    answers: dict[int, int] = {}

    def register(index: int, password: str) -> None:
        answers[index] = replicas[index].client().connect("zoe", password).status

    threads = [
        threading.Thread(target=register, args=(i, pw)) for i, pw in enumerate(("pw-a", "pw-b"))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers.values()) == [201, 401]  # one account; the other password is wrong


def test_an_idempotency_key_retried_on_another_replica_returns_the_first_result(
    replicas: list[ReplicaProcess],
) -> None:
    a, b = replicas
    ann = connected(a, "ann")
    key = {"Idempotency-Key": "once"}
    first = ok(ann.call("POST", "/send", {"text": "once"}, headers=key)).body
    again = b.client(ann.token).call("POST", "/send", {"text": "once"}, headers=key)
    assert ok(again).body == first
    history = b.client(ann.token).call("GET", "/rooms/general/messages").body
    assert [m["text"] for m in history["messages"]].count("once") == 1


def test_a_due_scheduled_message_is_delivered_once(replicas: list[ReplicaProcess]) -> None:
    a, b = replicas
    ann = connected(a, "ann")
    now = float(ok(ann.send("clock")).body["message"]["ts"])
    ok(ann.call("POST", "/send", {"text": "soon", "send_at": now + 1.0}), 202)
    reader = b.client(ann.token)

    def delivered() -> bool:
        messages = reader.call("GET", "/rooms/general/messages").body["messages"]
        return any(m["text"] == "soon" for m in messages)

    wait_until(delivered, "the scheduled message is delivered")
    ok(ann.send("after it"))  # the timers of both replicas had their chance before this
    same_head(replicas)
    texts = [m["text"] for m in ann.call("GET", "/rooms/general/messages").body["messages"]]
    assert texts.count("soon") == 1


def test_bans_and_rate_windows_hold_across_replicas(replicas: list[ReplicaProcess]) -> None:
    a, b = replicas
    mal = connected(b, "mal")
    for name, replica in (("r1", a), ("r2", b), ("r3", a)):  # three reporters ban (default)
        ok(connected(replica, name).call("POST", "/users/mal/report", {}), 202)
    same_head(replicas)
    assert mal.send("hello").status == 403
    assert a.client(mal.token).send("hello").status == 403
    window = [connected(replica, "talker") for replica in (a, b)]
    sent = [window[n % 2].send(f"t{n}").status for n in range(25)]  # 20 per window (default)
    assert sent.count(201) == 20
    assert sent.count(429) == 5


def test_a_client_moves_between_replicas_mid_sync_without_gap_or_duplicate(
    replicas: list[ReplicaProcess],
) -> None:
    a, b = replicas
    ann, bob = connected(a, "ann"), connected(a, "bob")
    for n in range(5):
        ok(ann.send(f"m{n}"))
    page = ok(bob.events(0)).body
    after = page["next"]
    got = [e["message"]["text"] for e in page["events"] if e["type"] == "message.sent"]
    for n in range(5, 10):
        ok(ann.send(f"m{n}"))
    # Bob's next poll goes to the other replica (a load balancer's choice).
    moved = b.client(bob.token)
    while True:
        page = ok(moved.events(after, timeout_s=1)).body
        got += [e["message"]["text"] for e in page["events"] if e["type"] == "message.sent"]
        if page["next"] == after or len(got) >= 10:
            break
        after = page["next"]
    assert got == [f"m{n}" for n in range(10)]


def test_a_long_poll_on_one_replica_wakes_on_a_write_to_another(
    replicas: list[ReplicaProcess],
) -> None:
    a, b = replicas
    ann, bob = connected(a, "ann"), connected(b, "bob")
    head = ok(bob.call("GET", "/status")).body["offset"]
    result: dict[str, object] = {}

    def poll() -> None:
        result["reply"] = bob.events(head, timeout_s=20)  # parked until the write

    poller = threading.Thread(target=poll)
    poller.start()
    ok(ann.send("wake up"))
    poller.join()
    events = result["reply"].body["events"]  # type: ignore[attr-defined]
    assert [e["message"]["text"] for e in events if e["type"] == "message.sent"] == ["wake up"]


def test_an_upload_on_one_replica_downloads_from_another(replicas: list[ReplicaProcess]) -> None:
    a, b = replicas
    ann = connected(a, "ann")
    data = secrets.token_bytes(300_000)
    upload = http.client.HTTPConnection("127.0.0.1", a.port, timeout=30)
    try:
        upload.request(
            "POST",
            "/files?name=blob.bin",
            data,
            {"Authorization": f"Bearer {ann.token}", "Content-Type": "application/octet-stream"},
        )
        response = upload.getresponse()
        body = response.read()
    finally:
        upload.close()
    assert response.status == 201, body
    message = json.loads(body)["message"]["id"]
    same_head(replicas)
    download = b.client(ann.token).call("GET", f"/messages/{message}/file")
    assert download.status == 200
    assert download.body == data


@pytest.mark.slow
@pytest.mark.replica_count(3)
@pytest.mark.unlimited_sends
def test_kill_9_of_the_writer_under_send_load_loses_nothing_acknowledged(
    replicas: list[ReplicaProcess],
) -> None:
    writer = next(r for r in replicas if "writer=True" in r.log_tail())
    others = [r for r in replicas if r is not writer]
    acknowledged: list[str] = []
    stop = threading.Event()

    def sender(replica: ReplicaProcess, name: str) -> None:
        client = connected(replica, name)
        n = 0
        while not stop.is_set():
            text = f"{name}-{n}"
            try:
                reply = client.call(
                    "POST", "/send", {"text": text}, headers={"Idempotency-Key": text}
                )
            except OSError:
                client.close()
                continue
            if reply.status == 201:
                acknowledged.append(text)
                n += 1

    threads = [
        threading.Thread(target=sender, args=(replica, f"user{i}"))
        for i, replica in enumerate(others)
    ]
    for thread in threads:
        thread.start()
    wait_until(lambda: len(acknowledged) >= 30, "sends are acknowledged")
    writer.kill()
    count = len(acknowledged)
    wait_until(lambda: len(acknowledged) >= count + 30, "sends go on after the writer died")
    stop.set()
    for thread in threads:
        thread.join()
    same_head(others)
    reader = connected(others[0], "reader")
    texts: set[str] = set()
    before = None
    while True:
        path = "/rooms/general/messages?limit=500" + (f"&before={before}" if before else "")
        page = ok(reader.call("GET", path)).body
        texts |= {m["text"] for m in page["messages"]}
        before = page["next_before"]
        if before is None:
            break
    assert set(acknowledged) <= texts


@pytest.mark.slow
def test_a_nats_restart_mid_load_refuses_writes_then_catches_up(
    replicas: list[ReplicaProcess], tmp_path: Path
) -> None:
    # A server of this test's own: it is restarted.
    server = NatsServer(require_nats_server(), tmp_path / "own-nats").start()
    stream = f"T{secrets.token_hex(6)}"
    mine = [ReplicaProcess(server, stream, tmp_path / f"own{n}").start() for n in range(2)]
    try:
        a, b = mine
        ann = connected(a, "ann")
        ok(ann.send("before"))
        server.stop()
        refused = b.client(ann.token).send("while away")
        assert refused.status == 503
        assert "retry-after" in refused.headers
        reads = b.client(ann.token).call("GET", "/rooms/general/messages")
        assert reads.status == 200
        server.start()
        wait_until(lambda: b.client(ann.token).send("after").status == 201, "writes resume")
        same_head(mine)
        texts = [m["text"] for m in ann.call("GET", "/rooms/general/messages").body["messages"]]
        assert "before" in texts
        assert "after" in texts
    finally:
        for replica in mine:
            replica.stop()
        server.stop()
