"""Screenshots of the real app for the README: `make screenshots` writes docs/screenshots/."""

import sys
import tempfile
from pathlib import Path

import socketio
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.accounts import PASSWORD  # noqa: E402
from tests.support.browser import DESKTOP  # noqa: E402
from tests.support.chromium import CHROMIUM, LAUNCH_ARGS  # noqa: E402
from tests.support.live import LiveServer  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
PHONE = {"width": 390, "height": 844}
CONVERSATION = [
    ("bob", "general", "Morning all! Did anyone try the new build on their phone?"),
    ("carol", "general", "Yes, on mine it works fine. Notifications too."),
    ("carol", "general", "Release notes are at https://example.org/notes (**draft**)."),
    ("alice", "general", "Nice. I'll merge the last fixes after lunch."),
    ("alice", "general", "Then we can tag 1.0!"),
    ("bob", "general", "Sounds good.\nI'll write the announcement."),
    ("carol", "general", "Checklist:\n- tag `v1.0`\n- publish the *notes*"),
    ("bob", "design", "New icons are in the shared folder."),
    ("carol", "design", "Love the dark mode colours!"),
    ("carol", "random", "Anyone up for lunch at 12:30?"),
]


def seed(server: LiveServer) -> list[socketio.SimpleClient]:
    """Post the conversation as three users; bob stays connected (and typing) in #general."""
    clients = {}
    for user in ("alice", "bob", "carol"):
        client = socketio.SimpleClient()
        client.connect(server.url, auth={"token": server.token(user)})
        clients[user] = client
    for user, room, text in CONVERSATION:
        clients[user].call("join", {"room": room})
        clients[user].call("message", {"room": room, "text": text})
    # what people do with messages: answer one, react, fix a typo
    clients["alice"].call(
        "message", {"room": "general", "text": "Works on mine too.", "reply_to": 1}
    )
    for user, emoji in (("bob", "🎉"), ("carol", "🎉"), ("carol", "👍")):
        clients[user].call("react", {"room": "general", "id": 5, "emoji": emoji, "on": True})
    edited = "Sounds good.\nI'll write the announcement tonight."
    clients["bob"].call("edit", {"room": "general", "id": 6, "text": edited})
    clients["alice"].disconnect()
    return [clients["bob"], clients["carol"]]


def sign_in(page, url: str) -> None:
    page.goto(f"{url}/auth/login")
    page.fill("#username", "alice")
    page.fill("#password", PASSWORD)
    page.check("#remember")
    page.click("button[type=submit]")
    page.wait_for_selector("#connection[data-state=connected]")
    page.wait_for_selector(".message")


def pick(page, room: str) -> None:
    """Click a room in the list, opening the rooms drawer first on a phone."""
    if page.locator("#open-rooms").is_visible():
        page.locator("#open-rooms").click()
    page.locator(f'.room-button[data-room="{room}"]').click()
    page.locator(f'.room-button[data-room="{room}"][aria-current]').wait_for(state="attached")
    settle(page)


def settle(page) -> None:
    """Wait for the drawers' slide transitions to end."""
    page.evaluate("Promise.all(document.getAnimations().map((a) => a.finished))")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        server = LiveServer(f"sqlite:///{tmp}/shots.db", Path(tmp) / "server.log").start()
        try:
            bob, carol = seed(server)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
                shoot(browser, server, bob, carol)
                browser.close()
            bob.disconnect()
            carol.disconnect()
        finally:
            server.stop()
    for path in sorted(OUT.glob("*.png")):
        print(path.relative_to(ROOT))


def shoot(browser, server: LiveServer, bob, carol) -> None:
    for name, viewport, scheme in (
        ("desktop", DESKTOP, "light"),
        ("phone", PHONE, "light"),
        ("desktop-dark", DESKTOP, "dark"),
    ):
        context = browser.new_context(
            viewport=viewport, color_scheme=scheme, device_scale_factor=1, locale="en-GB"
        )
        page = context.new_page()
        if scheme == "light":
            page.goto(f"{server.url}/auth/login")
            page.screenshot(path=OUT / f"signin-{name}.png")
        sign_in(page, server.url)
        page.evaluate("document.querySelector('.flash-close')?.click()")
        pick(page, "design")
        pick(page, "general")
        carol.call("message", {"room": "design", "text": f"Screenshot time ({name})!"})
        page.locator("#my-rooms .badge").wait_for(state="attached")
        bob.emit("typing", {"room": "general", "typing": True})
        page.get_by_text("bob is typing").wait_for()
        page.locator("#history-status").hover()  # no hover highlight on a message
        page.screenshot(path=OUT / f"chat-{name}.png")
        if name == "phone":
            page.get_by_role("button", name="Rooms").click()
            settle(page)
            page.screenshot(path=OUT / "rooms-phone.png")
        context.close()


if __name__ == "__main__":
    main()
