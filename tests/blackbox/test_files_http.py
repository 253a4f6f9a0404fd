"""Files over HTTP: sizes around the limit, both framings, 413 before the body,
who may download, and what a crash between storing and appending leaves."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.blackbox.support import Client, LiveServer, fast_settings, live_server

LIMIT = 100_000


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(fast_settings(tmp_path / "data", max_file_bytes=LIMIT)).start()
    yield live
    live.stop()


def upload(
    port: int, token: str, data: bytes, query: str, *, chunked: bool = False, key: str = ""
) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-test"}
    if key:
        headers["Idempotency-Key"] = key
    try:
        if chunked:
            pieces = [data[i : i + 7000] for i in range(0, len(data), 7000)]
            conn.request("POST", f"/files?{query}", iter(pieces), headers, encode_chunked=True)
        else:
            conn.request("POST", f"/files?{query}", data, headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def download(port: int, token: str, message: int) -> tuple[int, bytes, dict[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(
            "GET", f"/messages/{message}/file", headers={"Authorization": f"Bearer {token}"}
        )
        response = conn.getresponse()
        return response.status, response.read(), {k.lower(): v for k, v in response.getheaders()}
    finally:
        conn.close()


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("size", [0, 1, LIMIT - 1, LIMIT, LIMIT + 1])
def test_round_trip_around_the_limit(server: LiveServer, size: int, chunked: bool) -> None:
    ann = server.client()
    ann.connect("ann")
    assert ann.token is not None
    data = os.urandom(size)
    status, body = upload(server.port, ann.token, data, "name=blob.bin", chunked=chunked)
    if size > LIMIT:
        assert (status, body["error"]["code"]) == (413, "too_large")
        # The answer names the limit, and the size when the request announced it.
        assert body["error"]["max_bytes"] == LIMIT
        assert str(LIMIT) in body["error"]["message"]
        if not chunked:
            assert body["error"]["size"] == size
            assert str(size) in body["error"]["message"]
        blobs = server.settings.data_dir / "blobs"
        assert [p.name for p in blobs.iterdir() if p.is_file()] == []
        assert list((blobs / "tmp").iterdir()) == []
        return
    assert status == 201
    file = body["message"]["file"]
    assert file == {
        "name": "blob.bin",
        "size": size,
        "content_type": "application/x-test",
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    got, payload, headers = download(server.port, ann.token, body["message"]["id"])
    assert got == 200
    assert hashlib.sha256(payload).hexdigest() == file["sha256"]
    assert headers["content-type"] == "application/x-test"
    assert headers["etag"] == f'"{file["sha256"]}"'
    assert "attachment" in headers["content-disposition"]


def test_a_declared_oversize_body_is_refused_before_it_is_sent(server: LiveServer) -> None:
    ann = server.client()
    ann.connect("ann")
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(
            b"POST /files?name=big HTTP/1.1\r\nHost: x\r\n"
            b"Authorization: Bearer " + str(ann.token).encode() + b"\r\n"
            b"Content-Length: 6291456\r\n\r\n"
        )
        started = time.monotonic()
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413")
    assert time.monotonic() - started < 2


def test_expect_continue_is_answered_only_for_acceptable_uploads(server: LiveServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(
            b"POST /files?name=x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer nope\r\n"
            b"Expect: 100-continue\r\nContent-Length: 10\r\n\r\n"
        )
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 401")
    ann = server.client()
    ann.connect("ann")
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(
            b"POST /files?name=x HTTP/1.1\r\nHost: x\r\n"
            b"Authorization: Bearer " + str(ann.token).encode() + b"\r\n"
            b"Expect: 100-continue\r\nContent-Length: 3\r\n\r\n"
        )
        assert sock.recv(4096).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(b"abc")
        reply = b""
        while b"\r\n\r\n" not in reply:
            reply += sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 201")


def test_only_members_download_and_direct_files_stay_between_two(server: LiveServer) -> None:
    ann, bob, cy = server.client(), server.client(), server.client()
    for client, name in ((ann, "ann"), (bob, "bob"), (cy, "cy")):
        client.connect(name)
    tokens = {name: str(c.token) for name, c in (("ann", ann), ("bob", bob), ("cy", cy))}
    status, direct = upload(server.port, tokens["ann"], b"for bob", "to=bob&name=note.txt")
    assert status == 201
    direct_id = direct["message"]["id"]
    assert download(server.port, tokens["bob"], direct_id)[0] == 200
    assert (
        download(server.port, tokens["cy"], direct_id)[0] == 404
    )  # a direct message of others is as unknown as a missing one
    room = ann.call("POST", "/rooms", {"name": "club"}).body["room"]["id"]
    status, group = upload(server.port, tokens["ann"], b"club", f"room={room}&name=c.txt")
    assert status == 201
    assert download(server.port, tokens["bob"], group["message"]["id"])[0] == 403
    assert upload(server.port, tokens["bob"], b"x", f"room={room}&name=x")[0] == 403
    assert download(server.port, tokens["ann"], 999_999)[0] == 404
    name = quote("отчёт 2026.pdf")
    status, body = upload(server.port, tokens["ann"], b"%PDF", f"name={name}")
    assert body["message"]["file"]["name"] == "отчёт 2026.pdf"
    _, _, headers = download(server.port, tokens["cy"], body["message"]["id"])
    assert "filename*=UTF-8''" in headers["content-disposition"]
    assert (
        upload(server.port, tokens["ann"], b"x", "name=a%2Fb")[1]["message"]["file"]["name"]
        == "a_b"
    )
    assert upload(server.port, tokens["ann"], b"x", "name=")[0] == 400


def test_a_repeated_key_stores_nothing_new(server: LiveServer) -> None:
    ann = server.client()
    ann.connect("ann")
    first = upload(server.port, str(ann.token), b"one", "name=a", key="k1")
    again = upload(server.port, str(ann.token), b"two", "name=a", key="k1")
    assert first == again
    blobs = server.settings.data_dir / "blobs"
    assert len([p for p in blobs.iterdir() if p.is_file()]) == 1


def test_restart_keeps_files_and_cleans_orphans(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with live_server(data, max_file_bytes=LIMIT) as first:
        ann: Client = first.client()
        ann.connect("ann")
        status, body = upload(first.port, str(ann.token), b"kept", "name=k")
        assert status == 201
        token = str(ann.token)
    # A crash between storing a blob and appending its message leaves an orphan.
    orphan = data / "blobs" / hashlib.sha256(b"orphan").hexdigest()
    orphan.write_bytes(b"orphan")
    (data / "blobs" / "tmp" / "half.part").write_bytes(b"half")
    with live_server(data, max_file_bytes=LIMIT) as second:
        assert not orphan.exists()
        assert list((data / "blobs" / "tmp").iterdir()) == []
        got, payload, _ = download(second.port, token, body["message"]["id"])
        assert (got, payload) == (200, b"kept")
        history = second.client(token).call("GET", "/rooms/general/messages").body["messages"]
        assert [m["text"] for m in history] == ["k"]


def test_if_none_match_and_a_blob_lost_from_disk(server: LiveServer) -> None:
    ann = server.client()
    ann.connect("ann")
    token = str(ann.token)
    _, body = upload(server.port, token, b"cached", "name=c")
    message, sha = body["message"]["id"], body["message"]["file"]["sha256"]
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        headers = {"Authorization": f"Bearer {token}", "If-None-Match": f'"{sha}"'}
        conn.request("GET", f"/messages/{message}/file", headers=headers)
        response = conn.getresponse()
        response.read()
        assert response.status == 304
    finally:
        conn.close()
    (server.settings.data_dir / "blobs" / sha).unlink()
    status, _, _ = download(server.port, token, message)
    assert status == 404  # a clean answer, not a response cut after its headers


def upload_typed(port: int, token: str, data: bytes, name: str, content_type: str) -> int:
    """Upload `data` as `content_type` over a socket; the message id."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": content_type}
    try:
        conn.request("POST", f"/files?name={quote(name)}", data, headers)
        response = conn.getresponse()
        body = json.loads(response.read())
        assert response.status == 201, body
        return int(body["message"]["id"])
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("uploaded", "served", "disposition"),
    [
        ("text/html", "application/octet-stream", "attachment"),
        ("TEXT/HTML; charset=utf-8", "application/octet-stream", "attachment"),
        ("image/svg+xml", "application/octet-stream", "attachment"),
        ("application/xhtml+xml", "application/octet-stream", "attachment"),
        ("text/javascript", "application/octet-stream", "attachment"),
        ("application/javascript", "application/octet-stream", "attachment"),
        ("application/xml", "application/octet-stream", "attachment"),
        ("text/xml", "application/octet-stream", "attachment"),
        ("application/atom+xml", "application/octet-stream", "attachment"),
        ("text/plain", "text/plain", "attachment"),
        ("application/x-test", "application/x-test", "attachment"),
        ("image/png", "image/png", "inline"),
        ("image/jpeg", "image/jpeg", "inline"),
        ("image/gif", "image/gif", "inline"),
        ("image/webp", "image/webp", "inline"),
    ],
)
def test_downloads_never_run_as_documents_of_our_origin(
    server: LiveServer, uploaded: str, served: str, disposition: str
) -> None:
    ann = server.client()
    ann.connect("ann")
    assert ann.token is not None
    hostile = b"<html><script>alert(document.cookie)</script><svg onload=alert(1)/></html>"
    message = upload_typed(server.port, ann.token, hostile, "page.html", uploaded)
    status, payload, headers = download(server.port, ann.token, message)
    assert status == 200
    assert payload == hostile  # the bytes as uploaded: only the headers change
    assert headers["content-type"] == served
    assert headers["content-disposition"].split(";")[0] == disposition
    assert headers["content-security-policy"] == "sandbox"
    assert headers["x-content-type-options"] == "nosniff"
