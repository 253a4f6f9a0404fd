"""The web client's files over a real socket: served from the package, strict CSP, nothing else."""

from __future__ import annotations

import fnmatch
import http.client
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.blackbox.support import LiveServer, live_server
from transport.api.webclient import CONTENT_SECURITY_POLICY


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    with live_server(tmp_path / "data", max_file_bytes=12345) as running:
        yield running


def get(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def test_the_page_is_served_with_a_strict_policy_and_the_upload_limit(server: LiveServer) -> None:
    status, headers, body = get(server.port, "/")
    assert status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    policy = dict(part.strip().split(" ", 1) for part in CONTENT_SECURITY_POLICY.split(";"))
    assert policy["script-src"] == "'self'"  # no inline script, no eval
    assert policy["style-src"] == "'self'"  # no inline style
    assert policy["default-src"] == "'none'"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    page = body.decode()
    assert '<meta name="chat-max-file-bytes" content="12345">' in page
    for inline in ("<script>", "style=", "<style"):
        assert inline not in page
    assert '<script type="module" src="/web/app.js"></script>' in page


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("app.js", "text/javascript; charset=utf-8"),
        ("feed.js", "text/javascript; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
        ("icon.svg", "image/svg+xml"),
    ],
)
def test_assets_are_served_with_their_types(
    server: LiveServer, name: str, content_type: str
) -> None:
    status, headers, body = get(server.port, f"/web/{name}")
    assert status == 200
    assert headers["content-type"] == content_type
    assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert body


@pytest.mark.parametrize(
    "path",
    ["/web/nothing.js", "/web/index.html", "/web/..%2Fwebclient.py", "/web/APP.JS", "/web/"],
)
def test_nothing_else_is_served_from_the_package(server: LiveServer, path: str) -> None:
    status, _, _ = get(server.port, path)
    assert status == 404


def test_every_module_the_page_imports_is_served(server: LiveServer) -> None:
    _, _, app = get(server.port, "/web/app.js")
    seen, queue = set(), ["app.js"]
    while queue:
        name = queue.pop()
        seen.add(name)
        status, _, body = get(server.port, f"/web/{name}")
        assert status == 200, name
        for line in body.decode().splitlines():
            if line.startswith("import ") and ' from "./' in line:
                imported = line.split(' from "./', 1)[1].split('"', 1)[0]
                if imported not in seen:
                    queue.append(imported)
    assert {"app.js", "api.js", "feed.js", "view.js", "messages.js", "panels.js"} <= seen
    assert app


def test_every_file_of_the_client_is_package_data() -> None:
    """A non-editable install ships the page: each file matches a package-data pattern."""
    root = Path(__file__).resolve().parents[2]
    config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["transport.api"]
    web = root / "transport" / "api" / "web"
    files = [f"web/{p.name}" for p in web.iterdir() if p.is_file()]
    assert "web/index.html" in files
    for name in files:
        assert any(fnmatch.fnmatch(name, pattern) for pattern in patterns), name
