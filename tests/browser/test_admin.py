"""The admin page in Chromium: an admin sees a report in the queue, suspends the reported user
from it, and that user's open chat page says so and stays disconnected."""

import json
import subprocess
import sys

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from app.storage.models import Report, User
from tests.support.live import ROOT


def flask_cli(live, *args: str) -> None:
    """`flask ARGS...` against the live server's database."""
    subprocess.run(
        [sys.executable, "-m", "flask", *args], cwd=ROOT, env=live.env, check=True, timeout=60
    )


def add_report(live, reporter: str, reported: str, reason: str, context: list[dict]) -> None:
    """A report as the `report` event stores one, written straight into the server's database."""
    engine = create_engine(live.env["DATABASE_URL"])
    try:
        with Session(engine) as session:
            ids = dict(session.execute(select(User.username, User.id)).all())
            session.add(
                Report(
                    reporter_id=ids[reporter],
                    reported_id=ids[reported],
                    room_name="general",
                    reason=reason,
                    context=json.dumps(context),
                )
            )
            session.commit()
    finally:
        engine.dispose()


def test_an_admin_suspends_a_reported_user_whose_page_shows_it(open_chat, live):
    bob = open_chat("adm-bob")
    alice = open_chat("adm-alice")
    root = open_chat("adm-root")
    flask_cli(live, "users", "admin", "adm-root")
    context = [
        {"id": 1, "user": "adm-bob", "text": "<b>buy pills</b>", "ts": "2026-12-01T10:00:00Z"}
    ]
    add_report(live, "adm-alice", "adm-bob", "spam <script>x</script>", context)

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
