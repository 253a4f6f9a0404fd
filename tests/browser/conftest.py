"""Chromium driven by Playwright for Python, against a real server on port 0.

The browser is the system's (Debian's `chromium` package), never one that
Playwright downloads: `executable_path` points at it. Without it the browser
tests skip, unless REQUIRE_BROWSER=1 (CI) turns the skip into a failure.
Every context and page a test opens is closed after it, and the browser at
the end of the module.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.blackbox.support import LiveServer, fast_settings

CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
WAIT_MS = 10_000  # a deadline for what must happen, never a measurement


def _chromium() -> str | None:
    for path in (os.environ.get("CHROMIUM"), *CHROMIUM_PATHS, shutil.which("chromium")):
        if path and os.access(path, os.X_OK):
            return path
    return None


def _missing(reason: str) -> None:
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


# One browser per module, not per session: Playwright's sync API runs its event loop in
# this thread while it is open, and later tests call asyncio.run() here.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = _chromium()
    if executable is None:
        _missing("no Chromium at /usr/bin/chromium (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright  # noqa: PLC0415 (optional)
    except ImportError:
        _missing("playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, args=["--no-sandbox"]
        )
        try:
            yield launched
        finally:
            launched.close()


class Tab:
    """One page of a browser context, with its console errors and CSP violations kept."""

    def __init__(self, page: Any, url: str) -> None:
        self.page = page
        self.url = url
        self.errors: list[str] = []
        page.set_default_timeout(WAIT_MS)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))

    def _console(self, message: Any) -> None:
        if message.type == "error" or "Content Security Policy" in message.text:
            self.errors.append(message.text)

    def open(self) -> Tab:
        self.page.goto(self.url)
        return self

    def login(self, name: str, password: str = "pw") -> Tab:
        self.page.fill("#login-name", name)
        self.page.fill("#login-password", password)
        self.page.click("#login-submit")
        self.page.wait_for_selector("#chat:not([hidden])")
        self.page.wait_for_selector("#connection[data-state='live']")
        return self

    def send(self, text: str) -> None:
        self.page.fill("#text", text)
        self.page.press("#text", "Enter")

    def texts(self) -> list[str]:
        return list(self.page.locator("#messages li.message .text").all_text_contents())

    def wait_text(self, text: str) -> None:
        self.page.locator("#messages li.message .text", has_text=text).first.wait_for()

    def unread(self, room: str) -> str:
        badge = self.page.locator(f"#rooms button[data-room='{room}'] .unread")
        return badge.text_content() if badge.count() else ""

    def room(self, room: str) -> None:
        self.page.click(f"#rooms button[data-room='{room}']")
        self.page.wait_for_selector(f"#rooms button[data-room='{room}'][aria-current='true']")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(
        fast_settings(tmp_path / "data", max_file_bytes=4096, stream_heartbeat_s=0.5)
    ).start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def tabs(browser: Any, server: LiveServer) -> Iterator[Callable[..., Tab]]:
    """tabs() opens a page in a new context (a new person); tabs(same=tab) a tab beside it."""
    contexts: list[Any] = []
    opened: list[Tab] = []

    def open_tab(same: Tab | None = None, url: str | None = None) -> Tab:
        if same is None:
            context = browser.new_context(viewport={"width": 1000, "height": 700})
            contexts.append(context)
        else:
            context = same.page.context
        tab = Tab(context.new_page(), url or f"http://127.0.0.1:{server.port}/")
        opened.append(tab)
        return tab.open()

    try:
        yield open_tab
    finally:
        errors = [e for tab in opened for e in tab.errors]
        for context in contexts:
            context.close()
        assert not [e for e in errors if "Content Security Policy" in e], errors
