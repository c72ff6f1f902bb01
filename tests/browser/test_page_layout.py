"""The page's own layout and composer: it never scrolls, long texts are refused in words (with
Edit for a failed one), and user text cannot reorder the page's words."""

import json
import re
import time

from playwright.sync_api import Page, expect

from tests.support.browser import join, message, send
from tests.support.realclients import bot

# History is seeded by a bot: let it post quickly (EVENT_*: the budget every event is charged
# to, once the server has one).
SERVER_ENV = {
    "MESSAGE_RATE": "1000",
    "MESSAGE_BURST": "1000",
    "EVENT_RATE": "1000",
    "EVENT_BURST": "1000",
}
LIMIT = 4000


def seed(live, username: str, room: str, count: int) -> None:
    """`count` messages in a row from one person: the page groups them under one header."""
    poster = bot(live, username)
    poster.call("join", {"room": room})
    for number in range(count):
        payload = {"room": room, "text": f"grouped {number}"}
        ack = poster.call("message", payload)
        while not ack["ok"] and ack["error"]["code"] == "rate_limited":
            time.sleep(ack["error"]["retry_after"])  # a polite bot, whatever the budgets
            ack = poster.call("message", payload)
        assert ack["ok"], ack
    poster.disconnect()


def fully_visible(page: Page, locator) -> bool:
    """Whether every pixel of `locator` shows inside the message list (not clipped by it)."""
    box = locator.bounding_box()
    view = page.locator("#scroller").bounding_box()
    return (
        box is not None
        and box["height"] > 0
        and view["y"] <= box["y"]
        and box["y"] + box["height"] <= view["y"] + view["height"]
    )


def test_skip_link_with_many_grouped_messages_never_scrolls_the_page(open_chat, live):
    seed(live, "ada", "grouped-room", 120)
    bea = open_chat("bea")
    join(bea, "grouped-room")
    expect(bea.locator("#scroller .message.continued").first).to_be_attached()
    bea.locator("#scroller").hover()
    # Load the older ones too: the taller the list, the further the page used to scroll.
    for shown in (100, 120):
        bea.mouse.wheel(0, -50_000)
        expect(bea.locator("#scroller .message")).to_have_count(shown)

    # Keyboard users reach the skip link first (Tab from the page's start; the join form has
    # the focus here, so go there directly) and press Enter on it.
    skip = bea.get_by_role("link", name="Skip to the message box")
    skip.focus()
    expect(skip).to_be_in_viewport()
    bea.keyboard.press("Enter")
    expect(bea.get_by_label("Message", exact=True)).to_be_focused()
    bea.mouse.wheel(0, 2_000)
    page_scroll = bea.evaluate(
        "({top: document.scrollingElement.scrollTop,"
        " height: document.documentElement.scrollHeight, view: innerHeight})"
    )
    assert page_scroll["top"] == 0, page_scroll
    assert page_scroll["height"] <= page_scroll["view"], page_scroll
    expect(bea.locator(".room-header")).to_be_in_viewport(ratio=1)


def count_text(page: Page):
    return page.locator("#char-count")


def test_a_pasted_text_over_the_limit_is_counted_and_refused_with_the_text_kept(open_chat, live):
    cleo = open_chat("cleo")
    join(cleo, "paste-room")
    watcher = bot(live, "dina")
    watcher.call("join", {"room": "paste-room"})
    box = cleo.get_by_label("Message", exact=True)

    box.fill("x" * 3_000)
    expect(count_text(cleo)).to_be_hidden()  # far from the limit: no counter
    # Counted as the server counts: code points after trimming (an emoji is one).
    pasted = "  " + "😀" * 100 + "y" * 4_000 + "\n"
    box.fill(pasted)
    expect(count_text(cleo)).to_have_text("4,100 / 4,000")
    expect(box).to_have_value(pasted)  # nothing was cut
    box.press("Enter")
    expect(cleo.locator("#error-text")).to_have_text(
        "That message is too long: 4,100 characters, the limit is 4,000. Shorten it to send it."
    )
    expect(box).to_have_value(pasted)
    expect(cleo.locator("#scroller .message")).to_have_count(0)  # nothing queued, nothing sent

    box.fill("😀" * 100 + "y" * 3_900)  # exactly the limit
    expect(count_text(cleo)).to_have_text("4,000 / 4,000")
    expect(cleo.locator("#error")).to_be_hidden()
    box.press("Enter")
    expect(box).to_have_value("")
    expect(count_text(cleo)).to_be_hidden()
    sent = message(cleo, "yyyy")
    expect(sent).not_to_have_class(re.compile(r"\bpending\b"))
    received = [event for event in drain(watcher) if event[0] == "message"]
    assert [len(payload["text"]) for _, payload in received] == [LIMIT]
    watcher.disconnect()


def drain(client) -> list:
    """Every event `client` has received so far (waits up to 2 s for the first)."""
    events = []
    timeout = 2.0
    while True:
        try:
            events.append(client.receive(timeout=timeout))
        except Exception:  # noqa: BLE001 - socketio's TimeoutError: nothing more came
            return events
        timeout = 0.3


def test_a_failed_too_long_message_offers_edit_and_its_actions_are_fully_visible(open_chat, live):
    seed(live, "emil", "general", 40)
    fay = open_chat("fay")
    send(fay, "a short one first")
    expect(message(fay, "a short one first")).not_to_have_class(re.compile(r"\bpending\b"))

    # A message that waited in this tab's outbox since before the page counted lengths (or
    # from before a reload): the server refuses it as too long.
    too_long = "z" * 4_100
    outbox = [{"client_id": "edit-test-1", "room": "general", "text": too_long, "createdAt": 1}]
    fay.evaluate("outbox => sessionStorage.setItem('chat:fay:outbox', outbox)", json.dumps(outbox))
    fay.reload()
    fay.locator("#connection[data-state=connected]").wait_for()
    failed = fay.locator("#scroller .message.failed")
    expect(failed).to_contain_text(
        "Not sent: That message is too long: the limit is 4000 characters."
    )
    actions = failed.locator(".actions")
    expect(actions.get_by_role("button", name="Edit")).to_be_visible()
    expect(actions.get_by_role("button", name="Discard")).to_be_visible()
    # Sending the same text again cannot work: no Retry for it.
    expect(actions.get_by_role("button", name="Retry")).to_be_hidden()
    assert fully_visible(fay, actions)

    actions.get_by_role("button", name="Edit").click()
    box = fay.get_by_label("Message", exact=True)
    expect(box).to_have_value(too_long)
    expect(box).to_be_focused()
    expect(failed).to_have_count(0)
    expect(count_text(fay)).to_have_text("4,100 / 4,000")
    box.fill(too_long[:LIMIT])
    box.press("Enter")
    expect(message(fay, "zzzz")).not_to_have_class(re.compile(r"\bpending\b"))
    expect(failed).to_have_count(0)


def test_user_text_is_isolated_so_bidi_controls_cannot_reorder_the_page(open_chat, live):
    hana = open_chat("hana")
    join(hana, "bidi-room")
    ivo = bot(live, "ivo")
    ivo.call("join", {"room": "bidi-room"})
    spoof = "invoice \u202egnp.exe"
    assert ivo.call("message", {"room": "bidi-room", "text": spoof})["ok"]
    ivo.call("typing", {"room": "bidi-room", "typing": True})
    shown = message(hana, "invoice")
    expect(shown).to_be_visible()

    text = shown.locator(".text")
    author = shown.locator(".author")
    for part in (text, author):
        expect(part).to_have_attribute("dir", "auto")
        assert part.evaluate("node => getComputedStyle(node).unicodeBidi") == "isolate"
    # The author and the time are separate elements, outside the message text, in order.
    expect(author).to_have_text("ivo")
    assert text.locator(".author, time").count() == 0
    author_box = author.bounding_box()
    time_box = shown.locator(".meta time").bounding_box()
    assert author_box["x"] + author_box["width"] <= time_box["x"]

    # Names inside the page's own sentences are isolated too.
    expect(hana.locator("#typing")).to_have_text("ivo is typing…")
    expect(hana.locator("#typing bdi")).to_have_text("ivo")
    notice = hana.locator("#scroller .notice", has_text="ivo joined")
    expect(notice.locator("bdi")).to_have_text(["ivo", "bidi-room"])
    for selector in ("#member-list .member-name", "#my-rooms .room-label"):
        for node in hana.locator(selector).all():
            expect(node).to_have_attribute("dir", "auto")
    ivo.disconnect()
