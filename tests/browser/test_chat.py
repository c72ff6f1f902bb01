"""Two people chatting in real browsers: messages, typing, presence, history, rooms, safety."""

import re

from playwright.sync_api import expect

from tests.support.browser import join, message, send, texts
from tests.support.realclients import bot

# History is seeded by a bot: let it post quickly (EVENT_*: the budget every event is charged
# to; the page's own rate-limit handling is tested in test_resilience.py, test_page_budgets.py).
SERVER_ENV = {
    "MESSAGE_RATE": "1000",
    "MESSAGE_BURST": "1000",
    "EVENT_RATE": "1000",
    "EVENT_BURST": "1000",
}


def test_two_people_chat_both_ways_with_their_own_messages_marked(open_chat):
    alice = open_chat("alice")
    bob = open_chat("bob")
    expect(alice.locator("#room-name")).to_have_text("#general")
    expect(alice.locator("#member-list")).to_contain_text("bob")
    expect(alice.locator("#scroller")).to_contain_text("bob joined #general")

    send(alice, "hi bob")
    expect(message(bob, "hi bob")).to_contain_text("alice")
    expect(message(alice, "hi bob")).to_have_class(re.compile(r"\bmine\b"))
    expect(message(bob, "hi bob")).not_to_have_class(re.compile(r"\bmine\b"))
    expect(alice.get_by_label("Message", exact=True)).to_have_value("")

    send(bob, "hello alice")
    expect(message(alice, "hello alice")).to_be_visible()
    # The time in the reader's own clock and format: "16:05" or "4:05 PM".
    expect(message(alice, "hello alice").locator("time")).to_have_text(re.compile(r"^\d{1,2}:\d\d"))

    box = alice.get_by_label("Message", exact=True)
    box.fill("line one")
    box.press("Shift+Enter")
    box.press_sequentially("line two")
    expect(box).to_have_value("line one\nline two")
    box.press("Enter")
    expect(message(bob, "line two")).to_have_count(1)
    assert texts(bob)[-1] == "line one\nline two"

    # Grouped by author: consecutive messages of one person share one visible header.
    expect(alice.locator(".message.continued")).to_have_count(0)
    send(alice, "and a second one from me")
    expect(message(bob, "and a second one from me")).to_have_class(re.compile(r"\bcontinued\b"))
    assert (
        texts(alice)
        == texts(bob)
        == [
            "hi bob",
            "hello alice",
            "line one\nline two",
            "and a second one from me",
        ]
    )


def test_typing_indicator_appears_then_clears_on_send_and_when_idle(open_chat):
    carol = open_chat("carol")
    dave = open_chat("dave")
    join(carol, "typing-room")
    join(dave, "typing-room")
    typing = dave.locator("#typing")

    carol.get_by_label("Message", exact=True).press_sequentially("hel")
    expect(typing).to_have_text("carol is typing…")
    carol.get_by_label("Message", exact=True).press_sequentially("lo")
    carol.get_by_label("Message", exact=True).press("Enter")
    expect(typing).to_have_text("")
    expect(message(dave, "hello")).to_be_visible()

    carol.get_by_label("Message", exact=True).press_sequentially("still thinking")
    expect(typing).to_have_text("carol is typing…")
    # No key for a few seconds: the indicator goes away by itself.
    expect(typing).to_have_text("", timeout=8_000)


def test_online_list_updates_when_someone_closes_the_tab(open_chat):
    erin = open_chat("erin")
    join(erin, "presence-room")
    frank = open_chat("frank")
    join(frank, "presence-room")
    members = erin.locator("#member-list")
    expect(members).to_contain_text("frank")
    expect(erin.locator("#members-heading")).to_have_text("Online · 2")
    expect(erin.locator('.room-button[data-room="presence-room"]')).to_contain_text("2 online")

    frank.close()
    expect(members).not_to_contain_text("frank")
    expect(members).to_contain_text("erin")
    expect(erin.locator("#scroller")).to_contain_text("frank left #presence-room")
    expect(erin.locator('.room-button[data-room="presence-room"]')).to_contain_text("1 online")


def test_scrolling_to_the_top_loads_older_messages(open_chat, live):
    poster = bot(live, "grace")
    poster.call("join", {"room": "history-room"})
    for number in range(1, 131):
        assert poster.call("message", {"room": "history-room", "text": f"old message {number}"})[
            "ok"
        ]
    poster.disconnect()

    heidi = open_chat("heidi")
    join(heidi, "history-room")
    shown = heidi.locator("#scroller .message")
    expect(shown).to_have_count(50)
    expect(shown.last).to_contain_text("old message 130")
    expect(shown.last).to_be_in_viewport()  # opens at the newest message
    expect(heidi.locator("#history-status")).to_have_text("Scroll up for older messages")

    first_seen = message(heidi, "old message 81")
    heidi.locator("#scroller").hover()
    heidi.mouse.wheel(0, -50_000)
    expect(shown).to_have_count(100)
    # The page grew above the reader, who stays where they were.
    expect(first_seen).to_be_in_viewport()
    heidi.mouse.wheel(0, -50_000)
    expect(shown).to_have_count(130)
    expect(heidi.locator("#history-status")).to_have_text("This is the start of #history-room.")
    assert texts(heidi) == [f"old message {number}" for number in range(1, 131)]


def test_new_messages_pill_when_scrolled_up(open_chat, live):
    poster = bot(live, "judy")
    poster.call("join", {"room": "pill-room"})
    for number in range(40):
        poster.call("message", {"room": "pill-room", "text": f"filler {number}"})
    ivan = open_chat("ivan")
    join(ivan, "pill-room")
    expect(message(ivan, "filler 39")).to_be_in_viewport()
    ivan.locator("#scroller").hover()
    ivan.mouse.wheel(0, -300)
    expect(message(ivan, "filler 39")).not_to_be_in_viewport()
    pill = ivan.get_by_role("button", name=re.compile("new message"))
    expect(pill).to_be_hidden()

    poster.call("message", {"room": "pill-room", "text": "are you still there?"})
    expect(pill).to_have_text("1 new message ↓")
    expect(message(ivan, "are you still there?")).not_to_be_in_viewport()
    pill.click()
    expect(message(ivan, "are you still there?")).to_be_in_viewport()
    expect(pill).to_be_hidden()

    # Pinned to the bottom, new messages just appear.
    poster.call("message", {"room": "pill-room", "text": "good"})
    expect(message(ivan, "good")).to_be_in_viewport()
    expect(pill).to_be_hidden()
    poster.disconnect()


def test_html_in_a_message_shows_literally_and_links_are_safe(open_chat):
    mallory = open_chat("mallory")
    victim = open_chat("victor")
    payload = "<img src=x onerror=alert(1)>"
    send(mallory, payload)
    send(mallory, "docs at https://example.org/guide.")

    expect(message(victim, payload).locator(".text")).to_have_text(payload)
    expect(victim.locator("#scroller img")).to_have_count(0)
    expect(mallory.locator("#scroller img")).to_have_count(0)
    link = message(victim, "docs at").get_by_role("link")
    expect(link).to_have_text("https://example.org/guide")
    expect(link).to_have_attribute("href", "https://example.org/guide")
    expect(link).to_have_attribute("rel", "noopener noreferrer nofollow")
    expect(link).to_have_attribute("target", "_blank")
    assert victim.dialogs == mallory.dialogs == []


def test_rooms_join_by_name_unread_badges_and_leave(open_chat):
    kim = open_chat("kim")
    join(kim, "#Lobby-2 ", "lobby-2")  # typed loosely
    expect(kim.locator("#history-status")).to_have_text("This is the start of #lobby-2. Say hello!")
    kim.locator('.room-button[data-room="general"]').click()
    expect(kim.locator("#room-name")).to_have_text("#general")

    leo = open_chat("leo")
    other = leo.locator('#other-rooms .room-button[data-room="lobby-2"]')
    expect(other).to_contain_text("1 online")
    other.click()
    expect(leo.locator("#room-name")).to_have_text("#lobby-2")
    expect(leo.locator('#my-rooms .room-button[data-room="lobby-2"]')).to_be_visible()
    send(leo, "anyone here?")
    send(leo, "hello?")

    badge = kim.locator('.room-button[data-room="lobby-2"] .badge')
    expect(badge).to_have_text("2")
    expect(kim).to_have_title("(2) #general · Chat")
    kim.locator('.room-button[data-room="lobby-2"]').click()
    expect(message(kim, "hello?")).to_be_visible()
    expect(badge).to_have_count(0)
    expect(kim).to_have_title("#lobby-2 · Chat")

    kim.get_by_role("button", name="Leave").click()
    expect(kim.locator("#room-name")).to_have_text("#general")
    expect(kim.locator('#other-rooms .room-button[data-room="lobby-2"]')).to_be_visible()
    expect(leo.locator("#scroller")).to_contain_text("kim left #lobby-2")

    kim.get_by_label("Join or create a room").fill("no spaces allowed")
    kim.get_by_label("Join or create a room").press("Enter")
    expect(kim.locator("#join-error")).to_have_text(
        "Room names are 1-64 lowercase letters, digits, '-' or '_'."
    )


# Headless Chromium shows no system notifications and never hides a tab: stand-ins record
# what the page asks for, and let the test hide the tab.
NOTIFICATION_SPY = """
window.notified = [];
window.Notification = class {
  static permission = "granted";
  static requestPermission() { return Promise.resolve("granted"); }
  constructor(title, options) { window.notified.push({ title, body: options.body }); }
  addEventListener() {}
  close() {}
};
Object.defineProperty(document, "hidden", { get: () => window.tabHidden === true });
"""


def test_a_hidden_tab_notifies_and_counts_unread_in_its_title(open_chat, live):
    olive = open_chat("olive", setup=lambda context: context.add_init_script(NOTIFICATION_SPY))
    join(olive, "notify-room")
    poster = bot(live, "pablo")
    poster.call("join", {"room": "notify-room"})
    poster.call("message", {"room": "notify-room", "text": "seen while looking"})
    expect(message(olive, "seen while looking")).to_be_visible()

    olive.evaluate("window.tabHidden = true; document.dispatchEvent(new Event('visibilitychange'))")
    poster.call("message", {"room": "notify-room", "text": "psst, over here"})
    expect(olive).to_have_title("(1) #notify-room · Chat")
    assert olive.evaluate("window.notified") == [
        {"title": "pablo in #notify-room", "body": "psst, over here"}
    ]

    olive.evaluate(
        "window.tabHidden = false; document.dispatchEvent(new Event('visibilitychange'))"
    )
    expect(olive).to_have_title("#notify-room · Chat")
    poster.disconnect()


def test_keyboard_only_join_and_send(open_chat):
    mia = open_chat("mia")
    mia.keyboard.press("Tab")
    expect(mia.get_by_role("link", name="Skip to the message box")).to_be_focused()
    mia.keyboard.press("Enter")
    expect(mia.get_by_label("Message", exact=True)).to_be_focused()
    mia.keyboard.type("typed without a mouse")
    mia.keyboard.press("Enter")
    expect(message(mia, "typed without a mouse")).to_be_visible()

    mia.get_by_label("Join or create a room").focus()
    mia.keyboard.type("keys")
    mia.keyboard.press("Enter")
    expect(mia.locator("#room-name")).to_have_text("#keys")
    general = mia.locator('.room-button[data-room="general"]')
    general.focus()
    mia.keyboard.press("Enter")
    expect(mia.locator("#room-name")).to_have_text("#general")
    expect(general).to_be_focused()


def test_register_sign_out_and_sign_in_with_remember_me(browser, live):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        page.goto(f"{live.url}/")
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        expect(page.get_by_text("Please sign in to chat.")).to_be_visible()
        page.get_by_role("link", name="Create an account").click()

        page.get_by_label("Username").fill("nina")
        page.get_by_label("Password", exact=True).fill("a long password")
        page.get_by_label("Repeat password").fill("another password")
        page.get_by_role("button", name="Create account").click()
        expect(page.get_by_text("Passwords differ.")).to_be_visible()
        page.get_by_label("Password", exact=True).fill("a long password")
        page.get_by_label("Repeat password").fill("a long password")
        page.get_by_role("button", name="Create account").click()

        expect(page.get_by_text("Welcome, nina!")).to_be_visible()
        expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
        # The welcome banner sits above the chat without pushing the page past the screen.
        assert page.evaluate("document.documentElement.scrollHeight <= innerHeight")
        expect(page.get_by_label("Message", exact=True)).to_be_in_viewport()

        # On a phone the rooms (and Sign out) are behind the menu button.
        expect(page.get_by_role("button", name="Sign out")).to_be_hidden()
        page.get_by_role("button", name="Rooms", exact=True).click()
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_text("You are signed out.")).to_be_visible()

        page.get_by_label("Username").fill("nina")
        page.get_by_label("Password").fill("wrong password")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text("Wrong username or password.")).to_be_visible()
        page.get_by_label("Password").fill("a long password")
        page.get_by_label("Remember me").check()
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
        assert "remember_token" in {cookie["name"] for cookie in context.cookies()}
    finally:
        context.close()
