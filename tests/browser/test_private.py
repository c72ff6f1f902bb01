"""One-to-one in real browsers: talking to a stranger, direct messages, blocking."""

import re

from playwright.sync_api import Page, expect

from tests.support.browser import message, send, texts


def talk_to_a_stranger(page: Page) -> None:
    page.get_by_role("button", name="Talk to a stranger").click()
    expect(page.locator("#room-name")).to_have_text("Talk to a stranger")


TALKING = re.compile(r"You are talking to (stranger-[0-9a-f]{4})")


def stranger_status(page: Page):
    return page.locator("#stranger-status")


def partner_alias(page: Page) -> str:
    """The alias the page shows for its stranger (never the username)."""
    status = stranger_status(page)
    expect(status).to_have_text(TALKING)
    return TALKING.search(status.text_content()).group(1)


def test_two_strangers_are_matched_chat_and_one_presses_next(open_chat):
    stella = open_chat("stella")
    tom = open_chat("tom")
    talk_to_a_stranger(stella)
    talk_to_a_stranger(tom)
    box = stella.get_by_label("Message", exact=True)
    expect(box).to_be_disabled()

    stella.get_by_role("button", name="Start").click()
    expect(stranger_status(stella)).to_have_text("Waiting for someone…")
    # The keyboard user who pressed Start lands on Stop, which replaced it.
    expect(stella.get_by_role("button", name="Stop")).to_be_focused()
    tom.get_by_role("button", name="Start").click()
    tom_alias, stella_alias = partner_alias(stella), partner_alias(tom)
    assert tom_alias != stella_alias
    expect(stella.locator("#member-list")).to_contain_text(tom_alias)
    expect(stella.locator("#member-list")).not_to_contain_text("tom")
    # no DM with a stranger
    expect(stella.locator("#member-list .dm-button")).to_have_count(0)

    send(stella, "hi stranger")
    expect(message(tom, "hi stranger")).to_contain_text(stella_alias)
    expect(message(tom, "hi stranger")).not_to_contain_text("stella")
    # the page knows its own messages by `you`
    expect(message(stella, "hi stranger")).to_have_class(re.compile(r"\bmine\b"))
    send(tom, "hello <b>you</b>")
    expect(message(stella, "hello <b>you</b>").locator(".text")).to_have_text("hello <b>you</b>")
    assert texts(stella) == texts(tom) == ["hi stranger", "hello <b>you</b>"]
    # The pair's room is private: it is listed neither as a room nor as a direct message.
    expect(stella.locator("#my-rooms .room-button")).to_have_count(1)
    expect(stella.locator("#dm-rooms .room-button")).to_have_count(0)

    tom.get_by_role("button", name="Next").click()
    expect(stranger_status(tom)).to_have_text("Waiting for someone…")
    expect(tom.locator("#scroller .message")).to_have_count(0)
    expect(stranger_status(stella)).to_have_text("Your partner left.")
    expect(stella.locator("#scroller")).to_contain_text(f"{tom_alias} left the chat.")
    expect(box).to_be_disabled()
    expect(stella.get_by_role("button", name="Next")).to_be_hidden()

    # Start again: only tom is waiting, and the two just met: both wait (no rematch).
    stella.get_by_role("button", name="Start").click()
    expect(stranger_status(stella)).to_have_text("Waiting for someone…")
    expect(stranger_status(tom)).to_have_text("Waiting for someone…")
    stella.get_by_role("button", name="Stop").click()
    tom.get_by_role("button", name="Stop").click()
    expect(tom.get_by_role("button", name="Start")).to_be_visible()


def test_reporting_a_stranger_ends_the_chat_for_both(open_chat):
    una = open_chat("una")
    walt = open_chat("walt")
    talk_to_a_stranger(una)
    talk_to_a_stranger(walt)
    una.get_by_role("button", name="Start").click()
    walt.get_by_role("button", name="Start").click()
    walt_alias = partner_alias(una)
    send(walt, "buy my stuff")
    expect(message(una, "buy my stuff")).to_contain_text(walt_alias)

    una.get_by_role("button", name=f"Report {walt_alias}").click()
    dialog = una.get_by_role("dialog")
    expect(dialog).to_contain_text(walt_alias)
    expect(dialog).not_to_contain_text("walt")
    dialog.get_by_label("Why?").fill("spam, over and over")
    dialog.get_by_role("button", name="Send report").click()
    expect(dialog).to_be_hidden()
    expect(stranger_status(una)).to_have_text(f"You reported {walt_alias} and left the chat.")
    expect(stranger_status(walt)).to_have_text("Your partner left.")
    expect(walt.get_by_role("button", name="Start")).to_be_visible()


def test_reporting_a_message_in_a_public_room(open_chat, live):
    xena = open_chat("xena")
    yuri = open_chat("yuri")
    send(yuri, "something nasty")
    line = message(xena, "something nasty")
    expect(line).to_be_visible()
    expect(
        message(yuri, "something nasty").get_by_role("button", name=re.compile("Report"))
    ).to_have_count(0)
    line.hover()
    line.get_by_role("button", name="Report this message from yuri").click()
    dialog = xena.get_by_role("dialog")
    dialog.get_by_label("Why?").fill("insults")
    dialog.get_by_role("button", name="Send report").click()
    expect(xena.locator("#scroller")).to_contain_text("your report was sent to the admins")


def test_a_stranger_chat_survives_a_dropped_connection(open_chat):
    uri = open_chat("uri")
    vera = open_chat("vera")
    talk_to_a_stranger(uri)
    talk_to_a_stranger(vera)
    uri.get_by_role("button", name="Start").click()
    vera.get_by_role("button", name="Start").click()
    vera_alias, uri_alias = partner_alias(uri), partner_alias(vera)

    uri.context.set_offline(True)
    expect(uri.locator("#connection")).to_have_text("Offline")
    expect(stranger_status(vera)).to_have_text(
        f"You are talking to {uri_alias} (connection lost, waiting for {uri_alias} to come back…)"
    )
    send(vera, "sent while you were away")
    uri.context.set_offline(False)
    expect(uri.locator("#connection")).to_have_text("Connected", timeout=20_000)
    # Back within the grace period: the same chat, with what was said meanwhile.
    expect(message(uri, "sent while you were away")).to_be_visible()
    expect(stranger_status(uri)).to_have_text(f"You are talking to {vera_alias}")
    send(uri, "back")
    expect(message(vera, "back")).to_be_visible()
    expect(stranger_status(vera)).to_have_text(f"You are talking to {uri_alias}")


def test_a_direct_message_from_the_online_list_then_a_block(open_chat):
    dora = open_chat("dora")
    eddie = open_chat("eddie")
    members = dora.locator("#member-list")
    expect(members).to_contain_text("eddie")
    expect(members.get_by_role("button", name="DM dora")).to_have_count(0)  # not yourself

    members.get_by_role("button", name="DM eddie").click()
    expect(dora.locator("#room-name")).to_have_text("eddie")
    expect(dora.get_by_label("Message", exact=True)).to_be_focused()
    expect(dora.locator("#dm-rooms .room-button")).to_have_text(re.compile(r"eddie"))
    send(dora, "psst, just between us")

    # eddie was not asked: the conversation appears under Direct messages, unread.
    entry = eddie.locator("#dm-rooms .room-button")
    expect(entry).to_contain_text("dora")
    expect(entry.locator(".badge")).to_have_text("1")
    expect(eddie.locator("#room-name")).to_have_text("#general")
    expect(message(eddie, "psst, just between us")).to_have_count(0)
    entry.click()
    expect(eddie.locator("#room-name")).to_have_text("dora")
    expect(message(eddie, "psst, just between us")).to_be_visible()
    expect(entry.locator(".badge")).to_have_count(0)
    send(eddie, "got it")
    expect(message(dora, "got it")).to_be_visible()
    assert texts(dora) == texts(eddie) == ["psst, just between us", "got it"]

    # eddie blocks dora: her next message is refused, and she is told why in plain words.
    eddie.get_by_role("button", name="Block dora").click()
    expect(eddie.get_by_role("button", name="Unblock dora")).to_be_visible()
    send(dora, "hello?")
    expect(message(dora, "hello?")).to_contain_text(
        "Not sent: You can't send messages to eddie: one of you has blocked the other."
    )
    expect(message(eddie, "hello?")).to_have_count(0)
    dora.locator('#my-rooms .room-button[data-room="general"]').click()
    dora.locator("#member-list").get_by_role("button", name="DM eddie").click()
    expect(dora.locator("#error-text")).to_have_text(
        "You can't message eddie: one of you has blocked the other."
    )

    eddie.get_by_role("button", name="Unblock dora").click()
    expect(eddie.get_by_role("button", name="Block dora")).to_be_visible()
    send(eddie, "ok, talk again")
    dm_with_eddie = dora.locator("#dm-rooms .room-button")
    expect(dm_with_eddie.locator(".badge")).to_have_text("1")
    dm_with_eddie.click()
    expect(message(dora, "ok, talk again")).to_be_visible()
