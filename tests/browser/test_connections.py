"""A tab refused as one connection too many says so and gets back in once a slot is free."""

from playwright.sync_api import expect

from tests.support.accounts import PASSWORD
from tests.support.browser import DESKTOP, TIMEOUT_MS
from tests.support.realclients import bot

SERVER_ENV = {"MAX_CONNECTIONS_PER_USER": "2"}


def test_a_tab_over_the_connection_cap_explains_and_connects_when_a_slot_frees(
    browser, live, open_chat
):
    first = open_chat("alice")  # connection 1
    other_device = bot(live, "alice")  # connection 2: the cap

    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        page.goto(f"{live.url}/auth/login")
        page.get_by_label("Username").fill("alice")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()

        expect(page.locator("#connection-text")).to_have_text("Too many tabs")
        expect(page.locator("#error-text")).to_contain_text("too many chat tabs or devices")
        expect(first.locator("#connection[data-state=connected]")).to_be_visible()

        other_device.disconnect()
        page.get_by_role("button", name="Try again now").click()
        page.locator("#connection[data-state=connected]").wait_for()
        expect(page.locator("#error")).to_be_hidden()
        page.locator("#my-rooms .room-button[data-room=general]").wait_for()
    finally:
        context.close()
