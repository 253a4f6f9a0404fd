"""The web client's later features in Chromium: edits and deletions, search,
presence, sessions, and the blocked list, each live against a real server."""

from __future__ import annotations

from collections.abc import Callable

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
