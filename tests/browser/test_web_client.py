"""The web client in Chromium against a real server: people chatting live, safely.

Each test opens contexts (people) and pages (tabs) through the `tabs`
fixture, which closes them and fails the test on any Content-Security-Policy
violation the browser reported.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tests.blackbox.support import LiveServer, fast_settings
from tests.browser.conftest import Tab
from transport.api.webclient import CONTENT_SECURITY_POLICY

HOSTILE = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'


def test_register_then_sign_in_again(tabs: Callable[..., Tab]) -> None:
    tab = tabs().login("alice")
    assert tab.page.locator("#me").text_content() == "alice"
    tab.page.click("#logout")
    tab.page.wait_for_selector("#login:not([hidden])")
    assert tab.page.evaluate("sessionStorage.getItem('chat.token')") is None
    tab.page.fill("#login-name", "alice")
    tab.page.fill("#login-password", "wrong")
    tab.page.click("#login-submit")
    tab.page.locator("#login-error", has_text="password").wait_for()
    tab.login("alice", "pw")
    assert tab.page.locator("#me").text_content() == "alice"
    token = tab.page.evaluate("sessionStorage.getItem('chat.token')")
    assert token
    assert token not in tab.page.url


def test_two_people_chat_live_and_hostile_text_stays_text(
    tabs: Callable[..., Tab], server: LiveServer
) -> None:
    alice = tabs().login("alice")
    bob = tabs().login("bob")
    alice.send("hello bob")
    bob.wait_text("hello bob")
    bob.send(HOSTILE)
    alice.wait_text("window.pwned=2")
    assert HOSTILE in alice.texts()
    # Shown literally: no element was made from it, nothing ran.
    assert alice.page.locator("#messages img, #messages script").count() == 0
    assert alice.page.evaluate("window.pwned") is None
    # A room name is text too.
    alice.page.click(".side-tools summary")
    alice.page.fill("#new-room-name", HOSTILE[:60])
    alice.page.fill("#new-room-members", "bob")
    alice.page.press("#new-room-name", "Enter")
    alice.page.locator("#room-title", has_text="<img").wait_for()
    bob.page.locator("#rooms .room-name", has_text="<img src=x").wait_for()
    assert bob.page.locator("#rooms img").count() == 0
    assert bob.page.evaluate("window.pwned") is None
    # Every answer of the page carried the policy.
    response = alice.page.request.get(alice.url)
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY


def test_a_second_tab_of_the_same_user_stays_in_sync(tabs: Callable[..., Tab]) -> None:
    first = tabs().login("alice")
    second = tabs(same=first).login("alice")
    bob = tabs().login("bob")
    bob.page.click(".side-tools summary")
    bob.page.fill("#new-dm-name", "alice")
    bob.page.press("#new-dm-name", "Enter")
    bob.send("psst")
    bob.send("are you there")
    room = "dm:alice:bob"
    for tab in (first, second):
        tab.page.locator(f"#rooms button[data-room='{room}'] .unread", has_text="2").wait_for()
    first.room(room)
    first.wait_text("are you there")
    # Read in one tab: read in the other.
    second.page.locator(f"#rooms button[data-room='{room}'] .unread").wait_for(state="detached")
    assert second.unread(room) == ""
    assert first.unread(room) == ""
    # And the messages of the other tab's sending show in both.
    first.send("yes")
    second.room(room)
    second.wait_text("yes")
    assert second.texts() == ["psst", "are you there", "yes"]


def test_the_page_resumes_after_a_server_restart_without_gaps_or_duplicates(
    tabs: Callable[..., Tab], server: LiveServer, tmp_path: Path
) -> None:
    alice = tabs().login("alice")
    bob_client = server.client()
    bob_client.connect("bob")
    bob_client.send("before")
    alice.wait_text("before")
    port, data_dir = server.port, server.settings.data_dir
    server.stop()
    alice.page.wait_for_selector("#connection[data-state='offline']")
    again = LiveServer(fast_settings(data_dir, port=port, stream_heartbeat_s=0.5)).start()
    try:
        bob = again.client()
        bob.connect("bob")
        for text in ("during 1", "during 2", "after"):
            bob.send(text)
        alice.wait_text("after")
        alice.page.wait_for_selector("#connection[data-state='live']")
        assert alice.texts() == ["before", "during 1", "during 2", "after"]
        ids = alice.page.locator("#messages li.message").evaluate_all(
            "items => items.map(item => item.dataset.id)"
        )
        assert len(ids) == len(set(ids))
    finally:
        again.stop()


def test_upload_with_progress_download_and_refusal_over_the_limit(
    tabs: Callable[..., Tab], server: LiveServer
) -> None:
    alice = tabs().login("alice")
    bob = tabs().login("bob")
    uploads: list[str] = []
    alice.page.on("request", lambda r: uploads.append(r.url) if "/files" in r.url else None)
    payload = b"<html><script>alert(1)</script></html>\n" * 50  # 2,000 bytes, under 4,096
    alice.page.set_input_files(
        "#file", files=[{"name": "notes.html", "mimeType": "text/html", "buffer": payload}]
    )
    alice.page.locator("#notice", has_text="Uploaded notes.html").wait_for()
    assert alice.page.locator("#upload-progress").evaluate("p => p.value") == 1
    bob.page.locator("#messages .download", has_text="notes.html").wait_for()
    with bob.page.expect_download() as info:
        bob.page.click("#messages .download")
    download: Any = info.value
    assert download.suggested_filename == "notes.html"
    assert Path(download.path()).read_bytes() == payload
    # Over the limit: refused in the page, nothing sent.
    before = len(uploads)
    alice.page.set_input_files(
        "#file",
        files=[{"name": "big.bin", "mimeType": "application/octet-stream", "buffer": b"x" * 5000}],
    )
    alice.page.locator("#notice", has_text="over the server's limit").wait_for()
    assert len(uploads) == before
    assert "big.bin" not in " ".join(alice.texts())


def test_a_join_link_approved_by_the_owner(tabs: Callable[..., Tab]) -> None:
    alice = tabs().login("alice")
    carol = tabs().login("carol")
    alice.page.click(".side-tools summary")
    alice.page.fill("#new-room-name", "club")
    alice.page.press("#new-room-name", "Enter")
    alice.page.locator("#room-title", has_text="#club").wait_for()
    alice.page.click("#make-link")
    link = alice.page.locator("#panel input.link").input_value()
    assert "#join=" in link
    carol.page.click(".side-tools summary")
    carol.page.fill("#join-token", link)
    carol.page.press("#join-token", "Enter")
    carol.page.locator("#notice", has_text="the owner decides").wait_for()
    alice.page.locator("#notice", has_text="carol asks to join club").wait_for()
    alice.page.click("#show-requests")
    alice.page.click("#panel li[data-user='carol'] .approve")
    carol.page.locator("#rooms .room-name", has_text="#club").wait_for()
    alice.send("welcome carol")
    carol.page.locator("#rooms button .unread").first.wait_for()
    carol.page.click("#rooms button:has-text('#club')")
    carol.wait_text("welcome carol")


def test_comment_schedule_and_cancel(tabs: Callable[..., Tab]) -> None:
    alice = tabs().login("alice")
    bob = tabs().login("bob")
    alice.send("a message to discuss")
    bob.wait_text("a message to discuss")
    bob.page.click("#messages li.message .comments")
    bob.page.fill("#messages li.message .comment-text", "agreed")
    bob.page.press("#messages li.message .comment-text", "Enter")
    alice.page.locator("#messages li.message .comments", has_text="1 comment").wait_for()
    tomorrow = datetime.now() + timedelta(days=1)  # the page's time zone is the machine's
    alice.page.fill("#send-at", tomorrow.strftime("%Y-%m-%dT%H:%M"))
    alice.send("far in the future?")
    alice.page.locator("#notice", has_text="Scheduled").wait_for()
    alice.page.click("#show-scheduled")
    alice.page.locator("#panel li", has_text="far in the future?").wait_for()
    alice.page.click("#panel li .cancel")
    alice.page.locator("#notice", has_text="Cancelled").wait_for()
    assert alice.page.locator("#panel li", has_text="far in the future?").count() == 0


def test_a_phone_sized_window_shows_rooms_and_messages(
    browser: Any, server: LiveServer, tmp_path: Path
) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 740})
    try:
        tab = Tab(context.new_page(), f"http://127.0.0.1:{server.port}/").open().login("alice")
        tab.send("small screens too")
        tab.wait_text("small screens too")
        width = tab.page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390  # nothing wider than the window
        assert tab.page.locator("#rooms button[data-room='general']").is_visible()
        tab.page.screenshot(path=str(tmp_path / "phone.png"))
        assert not [e for e in tab.errors if "Content Security Policy" in e]
    finally:
        context.close()


def test_block_an_author_and_leave_a_room(tabs: Callable[..., Tab], server: LiveServer) -> None:
    alice = tabs().login("alice")
    bob = tabs().login("bob")
    bob.send("hi from bob")
    alice.wait_text("hi from bob")
    alice.page.click("#messages li.message .block")
    alice.page.locator("#notice", has_text="blocked bob").wait_for()
    alice_client = server.client()
    alice_client.connect("alice")
    assert alice_client.call("GET", "/blocked").body == {"blocked": ["bob"]}
    # A room of her own, which she leaves from the page.
    alice.page.click(".side-tools summary")
    alice.page.fill("#new-room-name", "mine")
    alice.page.press("#new-room-name", "Enter")
    alice.page.locator("#room-title", has_text="#mine").wait_for()
    alice.page.click("#leave")
    alice.page.locator("#notice", has_text="You left mine").wait_for()
    alice.page.locator("#rooms .room-name", has_text="#mine").wait_for(state="detached")
    assert alice.page.locator("#rooms button[aria-current='true']").text_content() == "#general"
