"""The admin page in Chromium: a user reports a message from the chat page, an admin sees it in
the queue, suspends the reported user from it, and that user's open chat page says so and stays
disconnected."""

import subprocess
import sys

from tests.support.browser import message, send
from tests.support.live import ROOT


def flask_cli(live, *args: str) -> None:
    """`flask ARGS...` against the live server's database."""
    subprocess.run(
        [sys.executable, "-m", "flask", *args], cwd=ROOT, env=live.env, check=True, timeout=60
    )


def test_an_admin_suspends_a_reported_user_whose_page_shows_it(open_chat, live):
    bob = open_chat("adm-bob")
    alice = open_chat("adm-alice")
    root = open_chat("adm-root")
    flask_cli(live, "users", "admin", "adm-root")
    # alice reports bob's message from the chat page, as any user would
    send(bob, "<b>buy pills</b>")
    line = message(alice, "<b>buy pills</b>")
    line.hover()
    line.get_by_role("button", name="Report this message from adm-bob").click()
    dialog = alice.get_by_role("dialog")
    dialog.get_by_label("Why?").fill("spam <script>x</script>")
    dialog.get_by_role("button", name="Send report").click()
    alice.locator("#scroller", has_text="your report was sent to the admins").wait_for()

    root.reload()  # the Admin link is there for admins only
    assert alice.locator("#admin-link").count() == 0
    root.locator("#admin-link").click()
    root.wait_for_url("**/admin/")
    report = root.locator(".report").first
    assert report.locator(".reported").inner_text() == "adm-bob"
    assert report.locator(".report-reason").inner_text() == "spam <script>x</script>"
    assert report.locator(".context-text").inner_text() == "<b>buy pills</b>"
    report.get_by_role("button", name="Suspend adm-bob").click()
    root.locator(".flashes", has_text="adm-bob is suspended.").wait_for()
    assert "suspended" in root.locator("#user-adm-bob .status").inner_text()

    bob.locator("#error-text", has_text="Your account has been suspended.").wait_for()
    assert bob.locator("#connection-text").inner_text() == "Suspended"
    bob.wait_for_timeout(4000)  # longer than the page's reconnect delay: it does not try
    assert bob.locator("#connection-text").inner_text() == "Suspended"
    assert bob.evaluate("document.body.dataset.connection") == "offline"
    assert alice.locator("#connection[data-state=connected]").count() == 1
    bob.reload()  # the session is signed out too
    assert "/auth/login" in bob.url

    root.get_by_role("button", name="Resolve").click()
    root.locator(".flashes", has_text="resolved.").wait_for()
    assert root.locator(".report").count() == 0
    actions = root.locator(".audit-action").all_inner_texts()
    assert actions[:3] == ["resolve_report", "suspend", "grant_admin"]
