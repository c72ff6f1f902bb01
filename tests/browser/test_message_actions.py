"""What people do to messages on the page (issue 15): reply, react, edit, delete, Up-arrow, each
seen live by the others, and caught up after a dropped connection without reloading."""

import re

from playwright.sync_api import expect

from tests.support.browser import join, message, send, texts
from tests.support.realclients import bot

# Bots seed and change messages quickly here; the page's own budgets are tested elsewhere.
SERVER_ENV = {
    "MESSAGE_RATE": "1000",
    "MESSAGE_BURST": "1000",
    "REACT_RATE": "1000",
    "REACT_BURST": "1000",
    "EVENT_RATE": "1000",
    "EVENT_BURST": "1000",
}
RECONNECT_MS = 20_000  # socket.io's back-off waits up to 5 s between attempts


def act(page, text: str, action: str):
    """Hover the message showing `text` and press its action `action` ("Reply", "Edit", ...)."""
    line = message(page, text)
    line.hover()
    line.locator(".tools").get_by_role("button", name=action).click()


def settled(page, text: str) -> None:
    """`text` is stored (no longer an unsent message of the page)."""
    expect(message(page, text)).not_to_have_class(re.compile(r"\bpending\b"))


def test_reply_quotes_the_message_jumps_to_it_and_follows_its_deletion(open_chat):
    ann = open_chat("ann")
    ben = open_chat("ben")
    join(ann, "reply-room")
    join(ben, "reply-room")
    send(ann, "what time is the meeting?")
    settled(ann, "what time is the meeting?")

    act(ben, "what time is the meeting?", "Reply")
    preview = ben.locator("#reply-preview")
    expect(preview).to_have_text(re.compile(r"Replying to ann: what time is the meeting\?"))
    ben.get_by_role("button", name="Cancel reply").click()
    expect(preview).to_be_hidden()

    act(ben, "what time is the meeting?", "Reply")
    expect(ben.get_by_label("Message", exact=True)).to_be_focused()
    send(ben, "at **three**")
    expect(preview).to_be_hidden()
    for page in (ann, ben):
        reply = message(page, "at three")
        expect(reply.locator(".quote")).to_have_text(
            re.compile(r"ann\s+what time is the meeting\?")
        )
        expect(reply.locator(".text strong")).to_have_text("three")
    assert texts(ann) == ["what time is the meeting?", "at three"]  # the quote is not the text

    # A quote shows the words as rendered, not the Markdown typed.
    act(ann, "at three", "Reply")
    expect(ann.locator("#reply-preview")).to_have_text(re.compile(r"Replying to ben: at three"))
    send(ann, "great")
    expect(message(ben, "great").locator(".quote")).to_have_text(re.compile(r"ben\s+at three$"))

    # Clicking the quote brings the quoted message into view, highlighted for a moment.
    message(ann, "at three").locator(".quote").click()
    original = message(ann, "what time is the meeting?")
    expect(original).to_have_class(re.compile(r"\bhighlight\b"))
    expect(original).to_be_in_viewport()
    expect(original).not_to_have_class(re.compile(r"\bhighlight\b"), timeout=5_000)

    # The quoted message is deleted: the quote says so on both pages, its words gone.
    act(ann, "what time is the meeting?", "Delete")
    ann.get_by_role("button", name="Yes, delete").click()
    for page in (ann, ben):
        quote = message(page, "at three").locator(".quote")
        expect(quote).to_have_text(re.compile(r"ann\s+message deleted"))
        expect(page.locator("#scroller")).not_to_contain_text("what time is the meeting?")


def test_reactions_are_chips_with_counts_that_toggle_and_show_who(open_chat):
    cat = open_chat("cat")
    dan = open_chat("dan")
    join(cat, "react-room")
    join(dan, "react-room")
    send(cat, "pizza tonight?")
    settled(cat, "pizza tonight?")

    act(dan, "pizza tonight?", "React")
    dan.get_by_role("button", name="React with 👍").click()
    for page, pressed in ((dan, "true"), (cat, "false")):
        chip = message(page, "pizza tonight?").locator(".reactions .chip", has_text="👍")
        expect(chip).to_have_text("👍 1")
        expect(chip).to_have_attribute("aria-pressed", pressed)
    expect(message(cat, "pizza tonight?").locator(".chip", has_text="👍")).to_have_attribute(
        "title", "dan reacted with 👍"
    )

    # cat adds hers by clicking the chip: a count of 2, hers highlighted, both named.
    message(cat, "pizza tonight?").locator(".chip", has_text="👍").click()
    cat_chip = message(cat, "pizza tonight?").locator(".chip", has_text="👍")
    expect(cat_chip).to_have_text("👍 2")
    expect(cat_chip).to_have_attribute("aria-pressed", "true")
    expect(cat_chip).to_have_attribute("title", "you, dan reacted with 👍")
    expect(message(dan, "pizza tonight?").locator(".chip", has_text="👍")).to_have_text("👍 2")

    # Any emoji can be typed into the picker.
    act(dan, "pizza tonight?", "React")
    dan.get_by_label("Any emoji").fill("🍕")
    dan.get_by_label("Any emoji").press("Enter")
    expect(message(cat, "pizza tonight?").locator(".chip")).to_have_text(["👍 2", "🍕 1"])

    # dan takes his 👍 back by clicking his highlighted chip.
    message(dan, "pizza tonight?").locator(".chip", has_text="👍").click()
    expect(message(cat, "pizza tonight?").locator(".chip", has_text="👍")).to_have_text("👍 1")
    dan_chip = message(dan, "pizza tonight?").locator(".chip", has_text="👍")
    expect(dan_chip).to_have_attribute("aria-pressed", "false")
    expect(dan_chip).to_have_attribute("title", "cat reacted with 👍")


def test_editing_inline_enter_saves_escape_cancels_and_up_arrow_edits_the_last(open_chat):
    eli = open_chat("eli")
    fay = open_chat("fay")
    join(eli, "edit-room")
    join(fay, "edit-room")
    send(eli, "teh first")
    send(fay, "fay's line")
    settled(eli, "teh first")
    settled(fay, "fay's line")

    # Only one's own messages have Edit.
    message(fay, "teh first").hover()
    expect(message(fay, "teh first").get_by_role("button", name="Edit")).to_have_count(0)

    act(eli, "teh first", "Edit")
    editor = eli.get_by_label("Edit message")  # in place of the text
    expect(editor).to_be_focused()
    expect(editor).to_have_value("teh first")
    editor.fill("the first, *fixed*")
    editor.press("Enter")
    for page in (eli, fay):
        fixed = message(page, "the first, fixed")
        expect(fixed.locator(".text em")).to_have_text("fixed")
        expect(fixed.locator(".edited")).to_have_text("(edited)")
        expect(fixed.locator(".edited")).to_have_attribute("title", re.compile(r"^Edited "))
    expect(eli.get_by_label("Edit message")).to_have_count(0)

    # Esc leaves the message as it was.
    act(eli, "the first, fixed", "Edit")
    eli.get_by_label("Edit message").fill("never mind")
    eli.get_by_label("Edit message").press("Escape")
    expect(eli.get_by_label("Edit message")).to_have_count(0)
    expect(message(eli, "the first, fixed")).to_be_visible()
    expect(eli.locator("#scroller")).not_to_contain_text("never mind")

    # Up in the empty box edits eli's newest message (not fay's, which came after it).
    send(eli, "second thougth")
    settled(eli, "second thougth")
    box = eli.get_by_label("Message", exact=True)
    box.press("ArrowUp")
    expect(editor).to_be_focused()
    expect(editor).to_have_value("second thougth")
    editor.fill("second thought")
    editor.press("Enter")
    expect(message(fay, "second thought").locator(".edited")).to_be_visible()
    assert texts(fay) == ["the first, fixed", "fay's line", "second thought"]
    # Not empty: Up moves in the text as usual.
    box.fill("draft")
    box.press("ArrowUp")
    expect(eli.get_by_label("Edit message")).to_have_count(0)


def test_delete_asks_first_and_a_room_owner_may_delete_anyones(open_chat):
    gil = open_chat("gil")
    join(gil, "delete-room")  # gil creates it, so gil owns it
    hub = open_chat("hub")
    join(hub, "delete-room")
    send(hub, "oops, wrong room")
    send(gil, "welcome")
    settled(hub, "oops, wrong room")
    settled(gil, "welcome")

    # A member has Delete on their own messages only.
    message(hub, "welcome").hover()
    expect(message(hub, "welcome").get_by_role("button", name="Delete")).to_have_count(0)

    act(hub, "oops, wrong room", "Delete")
    confirm = hub.get_by_role("group", name="Confirm delete")
    expect(confirm).to_contain_text("Delete this message?")
    confirm.get_by_role("button", name="Cancel").click()
    expect(confirm).to_have_count(0)
    expect(message(gil, "oops, wrong room")).to_be_visible()

    act(hub, "oops, wrong room", "Delete")
    hub.get_by_role("button", name="Yes, delete").click()
    for page in (gil, hub):
        expect(page.locator("#scroller .message.deleted .text")).to_have_text("message deleted")
        expect(page.locator("#scroller")).not_to_contain_text("oops, wrong room")
        expect(page.locator("#scroller .message.deleted .tools")).to_have_count(0)

    # The owner deletes someone else's message.
    send(hub, "spam spam spam")
    settled(hub, "spam spam spam")
    act(gil, "spam spam spam", "Delete")
    expect(gil.get_by_role("group", name="Confirm delete")).to_contain_text(
        "Delete this message from hub?"
    )
    gil.get_by_role("button", name="Yes, delete").click()
    expect(hub.locator("#scroller .message.deleted")).to_have_count(2)
    expect(hub.locator("#scroller")).not_to_contain_text("spam spam spam")
    assert texts(hub) == ["message deleted", "welcome", "message deleted"]


def test_edits_deletes_and_reactions_missed_offline_are_caught_up_on_reconnect(open_chat, live):
    ivy = open_chat("ivy")
    join(ivy, "away-room")
    jon = bot(live, "jon")
    assert jon.call("join", {"room": "away-room"})["ok"]
    sent = [
        jon.call("message", {"room": "away-room", "text": f"note {n}"})["message"]
        for n in (1, 2, 3)
    ]
    expect(message(ivy, "note 3")).to_be_visible()
    joins = []
    ivy.on(
        "websocket",
        lambda ws: ws.on(
            "framesent", lambda frame: '"join"' in str(frame) and joins.append(str(frame))
        ),
    )

    ivy.context.set_offline(True)
    expect(ivy.locator("#connection")).to_have_text("Offline")
    room = "away-room"
    assert jon.call("edit", {"room": room, "id": sent[0]["id"], "text": "note 1, edited"})["ok"]
    assert jon.call("delete", {"room": room, "id": sent[1]["id"]})["ok"]
    assert jon.call("react", {"room": room, "id": sent[2]["id"], "emoji": "🎉", "on": True})["ok"]
    assert jon.call("message", {"room": room, "text": "note 4", "reply_to": sent[2]["id"]})["ok"]

    ivy.context.set_offline(False)
    expect(ivy.locator("#connection")).to_have_text("Connected", timeout=RECONNECT_MS)
    expect(message(ivy, "note 1, edited").locator(".edited")).to_be_visible()
    expect(ivy.locator("#scroller .message.deleted .text")).to_have_text("message deleted")
    expect(message(ivy, "note 3").locator(".chip")).to_have_text("🎉 1")
    expect(message(ivy, "note 4").locator(".quote")).to_have_text(re.compile(r"jon\s+note 3"))
    assert texts(ivy) == ["note 1, edited", "message deleted", "note 3", "note 4"]
    expect(message(ivy, "note 4")).to_have_class(re.compile(r"\bcontinued\b"))
    # Caught up from what the page held (protocol "Room revisions"), not reloaded.
    rejoin = next(frame for frame in joins if room in frame)
    assert '"since":3' in rejoin.replace(" ", "") and '"rev":' in rejoin

    # And live again afterwards; "(edited)" shows on a message grouped under the one before.
    assert jon.call("react", {"room": room, "id": sent[2]["id"], "emoji": "🎉", "on": False})["ok"]
    expect(message(ivy, "note 3").locator(".chip")).to_have_count(0)
    assert jon.call("edit", {"room": room, "id": sent[2]["id"] + 1, "text": "note 4!"})["ok"]
    expect(message(ivy, "note 4!").locator(".edited")).to_be_visible()
    jon.disconnect()


def test_too_many_changes_while_away_reload_the_room(open_chat, live):
    kit = open_chat("kit")
    join(kit, "busy-room")
    lou = bot(live, "lou")
    assert lou.call("join", {"room": "busy-room"})["ok"]
    first = lou.call("message", {"room": "busy-room", "text": "popular"})["message"]
    lou.call("message", {"room": "busy-room", "text": "second"})
    expect(message(kit, "second")).to_be_visible()

    kit.context.set_offline(True)
    expect(kit.locator("#connection")).to_have_text("Offline")
    # Over 500 changes of held messages (protocol: `updates_truncated`).
    for _ in range(251):
        for on in (True, False):
            assert lou.call(
                "react", {"room": "busy-room", "id": first["id"], "emoji": "👍", "on": on}
            )["ok"]
    lou.call("react", {"room": "busy-room", "id": first["id"], "emoji": "🔥", "on": True})
    lou.call("edit", {"room": "busy-room", "id": first["id"], "text": "popular indeed"})

    kit.context.set_offline(False)
    expect(kit.locator("#connection")).to_have_text("Connected", timeout=RECONNECT_MS)
    expect(message(kit, "popular indeed").locator(".chip")).to_have_text("🔥 1")
    assert texts(kit) == ["popular indeed", "second"]
    lou.disconnect()


def test_on_a_touch_screen_the_actions_open_with_the_more_button(open_chat):
    mia = open_chat("mia", has_touch=True, is_mobile=True)
    mia.set_viewport_size({"width": 390, "height": 844})
    assert mia.evaluate("matchMedia('(hover: none)').matches")
    join(mia, "touch-room")
    send(mia, "tap me")
    settled(mia, "tap me")
    line = message(mia, "tap me")
    more = line.get_by_role("button", name="More actions")
    expect(more).to_be_visible()
    expect(line.get_by_role("button", name="Edit")).to_be_hidden()  # until asked for
    more.tap()
    line.get_by_role("button", name="Edit").tap()
    editor = mia.get_by_label("Edit message")
    expect(editor).to_have_value("tap me")
    editor.press("Escape")
    expect(editor).to_have_count(0)
