"""The web client's later features in Chromium: edits and deletions, search,
presence, sessions, and the blocked list, each live against a real server."""

from __future__ import annotations

from collections.abc import Callable

from tests.blackbox.support import LiveServer
from tests.browser.conftest import Tab


def test_edit_with_up_and_delete_own_messages_live_in_another_tab(
    tabs: Callable[..., Tab],
) -> None:
    alice = tabs().login("alice")
    bob = tabs().login("bob")
    alice.send("first try")
    bob.wait_text("first try")
    # Up in an empty composer takes the last own message; Enter saves it with PATCH.
    alice.page.press("#text", "ArrowUp")
    assert alice.page.input_value("#text") == "first try"
    alice.page.fill("#text", "second try")
    alice.page.press("#text", "Enter")
    for tab in (alice, bob):
        item = tab.page.locator("#messages li.message", has_text="second try")
        item.locator(".edited", has_text="(edited)").wait_for()
    assert "first try" not in bob.texts()
    # Only one's own messages offer edit and delete.
    assert bob.page.locator("#messages li.message .delete").count() == 0
    bob.send("from bob")
    alice.wait_text("from bob")
    bob_item = alice.page.locator("#messages li.message", has_text="from bob")
    assert bob_item.locator(".delete").count() == 0
    # Delete, confirmed in the dialog: gone here and in bob's tab.
    alice.page.locator("#messages li.message", has_text="second try").locator(".delete").click()
    alice.page.locator("#ask[open]").wait_for()
    alice.page.click("#ask-ok")
    for tab in (alice, bob):
        tab.page.locator("#messages li.message", has_text="second try").wait_for(state="detached")
    assert "from bob" in alice.texts()
    # Escape leaves an edit without saving.
    alice.send("keep me")
    alice.wait_text("keep me")
    alice.page.press("#text", "ArrowUp")
    alice.page.press("#text", "Escape")
    assert alice.page.input_value("#text") == ""
    assert alice.page.locator("#messages li.message .edited").count() == 0


def test_search_lists_newest_first_and_opens_the_result_in_its_room(
    tabs: Callable[..., Tab],
) -> None:
    alice = tabs().login("alice")
    bob = tabs().login("bob")
    alice.send("Lunch at noon?")
    alice.send("nothing to find here")
    alice.page.click(".side-tools summary")
    alice.page.fill("#new-room-name", "club")
    alice.page.fill("#new-room-members", "bob")
    alice.page.press("#new-room-name", "Enter")
    alice.page.locator("#room-title", has_text="#club").wait_for()
    alice.send("lunch in the club")
    alice.wait_text("lunch in the club")
    bob.page.locator("#rooms .room-name", has_text="#club").wait_for()
    bob.room("general")
    bob.page.fill("#search-q", "lun")
    bob.page.press("#search-q", "Enter")
    results = bob.page.locator("#panel button.result")
    results.nth(1).wait_for()
    assert results.count() == 2
    rows = [
        (
            row.locator(".where").text_content(),
            row.locator(".author").text_content(),
            row.locator(".text").text_content(),
        )
        for row in results.all()
    ]
    assert rows == [
        ("#club", "alice", "lunch in the club"),
        ("#general", "alice", "Lunch at noon?"),
    ]
    first_id = results.nth(0).get_attribute("data-id")
    assert results.nth(0).locator(".id").text_content() == f"#{first_id}"
    # Keyboard: Down from the box to the first result, Enter opens it in its room.
    bob.page.focus("#search-q")
    bob.page.keyboard.press("ArrowDown")
    bob.page.keyboard.press("Enter")
    bob.page.wait_for_selector("#rooms button[aria-current='true'] >> text=#club")
    found = bob.page.locator(f"#messages li.message.found[data-id='{first_id}']")
    found.wait_for()
    assert bob.page.locator("#panel").is_hidden()
    # A search that finds nothing says so.
    bob.page.fill("#search-q", "zebra")
    bob.page.press("#search-q", "Enter")
    bob.page.locator("#panel", has_text="No message found").wait_for()


def test_who_is_online_and_when_the_others_were_last_seen(
    tabs: Callable[..., Tab], server: LiveServer
) -> None:
    carol = server.client()
    carol.connect("carol")
    assert carol.call("POST", "/disconnect").status == 204  # her last session: offline at once
    tabs().login("bob")
    alice = tabs().login("alice")
    alice.page.click("#people-box summary")
    people = alice.page.locator("#people button.person")
    alice.page.locator("#people button.person[data-name='carol']").wait_for()
    bob_row = alice.page.locator("#people button.person[data-name='bob']")
    assert bob_row.get_attribute("data-online") == "true"
    assert bob_row.locator(".seen").text_content() == "online"
    carol_row = alice.page.locator("#people button.person[data-name='carol']")
    assert carol_row.get_attribute("data-online") == "false"
    assert (carol_row.locator(".seen").text_content() or "").startswith("last seen ")
    # Online first; oneself is not listed.
    assert people.first.get_attribute("data-name") == "bob"
    assert alice.page.locator("#people button.person[data-name='alice']").count() == 0
    # A name opens a direct conversation.
    bob_row.click()
    alice.page.locator("#room-title", has_text="@bob").wait_for()
    assert alice.page.evaluate("document.activeElement.id") == "text"


def test_end_another_session_then_this_one(tabs: Callable[..., Tab], server: LiveServer) -> None:
    first = tabs().login("alice")
    second = tabs(same=first).login("alice")
    first.page.click("#show-sessions")
    rows = first.page.locator("#panel .session-list li")
    rows.nth(1).wait_for()
    assert rows.count() == 2
    current = first.page.locator("#panel .session-list li[data-current='true']")
    assert current.count() == 1
    assert "(this tab)" in (current.text_content() or "")
    # Ending the other session signs the second tab out.
    first.page.locator("#panel .session-list li[data-current='false'] .end").click()
    first.page.click("#ask-ok")
    second.page.wait_for_selector("#login:not([hidden])")
    assert second.page.evaluate("sessionStorage.getItem('chat.token')") is None
    first.page.locator("#panel .session-list li").nth(1).wait_for(state="detached")
    assert first.page.locator("#chat").is_visible()
    # Ending this tab's own session signs it out cleanly: login shown, token gone.
    first.page.locator("#panel .session-list li[data-current='true'] .end").click()
    first.page.click("#ask-ok")
    first.page.wait_for_selector("#login:not([hidden])")
    first.page.locator("#login-error", has_text="You ended this session").wait_for()
    assert first.page.evaluate("sessionStorage.getItem('chat.token')") is None
    client = server.client()
    client.connect("alice")
    assert len(client.call("GET", "/sessions").body["sessions"]) == 1
    first.login("alice")  # and one may sign in again in the same tab


def test_blocked_users_listed_and_unblocked(tabs: Callable[..., Tab], server: LiveServer) -> None:
    alice = tabs().login("alice")
    bob = tabs().login("bob")
    bob.send("hi from bob")
    alice.wait_text("hi from bob")
    alice.page.click("#messages li.message .block")
    alice.page.click("#show-blocked")
    alice.page.locator("#panel .blocked-list li[data-user='bob']").wait_for()
    # Block one more by name, from the panel.
    server.client().connect("carol")
    alice.page.fill("#block-name", "carol")
    alice.page.press("#block-name", "Enter")
    alice.page.locator("#panel .blocked-list li[data-user='carol']").wait_for()
    client = server.client()
    client.connect("alice")
    assert client.call("GET", "/blocked").body == {"blocked": ["bob", "carol"]}
    alice.page.click("#panel .blocked-list li[data-user='bob'] .unblock")
    alice.page.locator("#panel .blocked-list li[data-user='bob']").wait_for(state="detached")
    alice.page.locator("#notice", has_text="unblocked bob").wait_for()
    assert client.call("GET", "/blocked").body == {"blocked": ["carol"]}
    # Bob may write to her directly again.
    bob_client = server.client()
    bob_client.connect("bob")
    assert bob_client.send("hello again", to="alice").status in (200, 201)
