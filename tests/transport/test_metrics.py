"""GET /metrics: the Prometheus text of one server, by route pattern, never by raw path."""

from __future__ import annotations

from pathlib import Path

from tests.blackbox.support import Client, live_server


def metrics_text(client: Client) -> str:
    reply = client.call("GET", "/metrics")
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/plain")
    assert isinstance(reply.body, bytes)
    return reply.body.decode()


def test_metrics_count_requests_by_pattern_and_report_the_log(tmp_path: Path) -> None:
    with live_server(tmp_path / "a") as server, live_server(tmp_path / "b") as other:
        client = server.client()
        try:
            assert client.connect("ann").status == 201
            assert client.send("hello").status == 201
            assert client.call("POST", "/join/secret-token-123", {}).status == 404
            text = metrics_text(client)
        finally:
            client.close()
        assert 'chat_http_requests_total{method="POST",route="/send",status="201"} 1.0' in text
        assert 'route="/join/{token}",status="404"' in text
        assert "secret-token-123" not in text
        assert "chat_log_round_events_count" in text
        assert "chat_log_appended_events_total" in text
        assert "chat_http_connections 1.0" in text
        assert "chat_polls_parked 0.0" in text
        assert "chat_log_lag_offsets 0.0" in text
        assert "process_cpu_seconds_total" in text
        assert "process_resident_memory_bytes" in text
        # A second server in the same process has a registry of its own.
        second = other.client()
        try:
            assert 'route="/send"' not in metrics_text(second)
        finally:
            second.close()


def test_metrics_can_be_turned_off(tmp_path: Path) -> None:
    with live_server(tmp_path, metrics="off") as server:
        client = server.client()
        try:
            assert client.call("GET", "/metrics").status == 404
        finally:
            client.close()
