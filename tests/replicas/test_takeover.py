"""A writer whose lease lapsed is fenced by the replica that took over: it rejoins, not stops.

The writer's lease renewal is paused (`CHAT_TEST_LEASE_PAUSE_FILE`: it never
learns on its own that its lease lapsed, as when its event loop stalls), and
the process is stopped (SIGSTOP) with a send in flight until the other
replica holds the lease and has fenced the stream. On SIGCONT the old
writer stages that send as the writer it believes it is; the stream refuses
the round, and the replica must answer it 503, drop what it staged and
follow the new writer.
"""

from __future__ import annotations

import secrets
import signal
import threading
from pathlib import Path

from tests.blackbox.support import Client, Reply
from tests.nats_support import NatsServer

from .support import ReplicaProcess, all_events, digest, ok, same_head, wait_until

PAUSE_VARIABLE = "CHAT_TEST_LEASE_PAUSE_FILE"  # eventstore.jetstream_lease.PAUSE_VARIABLE
FAST = ("--nats-lease-ttl", "1", "--rate-limit", "1000000", "--budget-messages", "1000000/m")


def writes(replica: ReplicaProcess) -> bool:
    """Whether the replica says it writes the log (its /metrics gauge)."""
    client = Client(replica.port)
    try:
        reply = client.call("GET", "/metrics")
    finally:
        client.close()
    return reply.status == 200 and b"\nchat_log_writer 1.0\n" in reply.body


def answers(replica: ReplicaProcess) -> bool:
    client = Client(replica.port)
    try:
        return client.call("GET", "/health").status == 200
    except OSError:
        return False
    finally:
        client.close()


def history(client: Client) -> list[str]:
    texts: list[str] = []
    before = None
    while True:
        path = "/rooms/general/messages?limit=500" + (f"&before={before}" if before else "")
        page = ok(client.call("GET", path)).body
        texts += [m["text"] for m in page["messages"]]
        before = page["next_before"]
        if before is None:
            return texts


def test_a_fenced_writer_answers_503_then_rejoins_as_a_follower_and_loses_nothing(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    pause = tmp_path / "pause-lease"
    stream = f"T{secrets.token_hex(6)}"
    started: list[ReplicaProcess] = []
    try:
        old = ReplicaProcess(
            nats_server, stream, tmp_path / "old", *FAST, env={PAUSE_VARIABLE: str(pause)}
        ).start()
        started.append(old)
        new = ReplicaProcess(nats_server, stream, tmp_path / "new", *FAST).start()
        started.append(new)
        assert writes(old)
        assert not writes(new)
        ann = old.client()
        ok(ann.connect("ann"))
        acknowledged: list[str] = []
        refused: list[Reply] = []
        others: list[object] = []
        stop = threading.Event()

        def sender() -> None:
            client = Client(old.port, ann.token)
            n = 0
            try:
                while not stop.is_set():
                    text = f"m{n}"
                    n += 1
                    try:
                        reply = client.send(text)
                    except OSError as exc:  # the process is gone (what this test guards)
                        others.append(exc)
                        client.close()
                        continue
                    if reply.status == 201:
                        acknowledged.append(text)
                    elif reply.status == 503:
                        refused.append(reply)
                    else:
                        others.append(reply)
            finally:
                client.close()

        thread = threading.Thread(target=sender)
        thread.start()
        try:
            wait_until(lambda: len(acknowledged) >= 20, "sends through the writer are answered")
            pause.touch()  # the old writer stops renewing its lease (and never notices)
            assert old.process is not None
            old.process.send_signal(signal.SIGSTOP)
            try:
                wait_until(lambda: writes(new), "the other replica takes the lease over")
            finally:
                old.process.send_signal(signal.SIGCONT)
            wait_until(lambda: refused, "the old writer refuses what it staged after the fence")
            count = len(acknowledged)
            wait_until(lambda: len(acknowledged) >= count + 20, "sends through it go on")
        finally:
            stop.set()
            thread.join()
        pause.unlink()

        assert old.process.poll() is None, old.log_tail()
        assert answers(old)
        assert "rejoined the log" in old.log_tail()
        assert all("retry-after" in reply.headers for reply in refused)
        assert not others, others
        assert writes(new)
        assert not writes(old)
        ok(ann.send("after the takeover"))  # forwarded to the new writer

        same_head(started)
        on_old, on_new = old.client(ann.token), new.client(ann.token)
        assert all_events(on_old) == all_events(on_new)  # the same offsets on both
        assert digest(on_old, ["general"]) == digest(on_new, ["general"])
        texts = history(on_new)
        assert set(acknowledged) | {"after the takeover"} <= set(texts)
        assert len(texts) == len(set(texts))
    finally:
        for replica in started:
            replica.stop()
