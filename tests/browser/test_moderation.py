"""Moderation in real browsers: an owner sets the topic, kicks and mutes a member from the
members panel, and the member's page shows each of it."""

import re

from playwright.sync_api import Page, expect

from tests.support.browser import join, message, send


def moderate(page: Page, user: str) -> None:
    page.locator("#member-list").get_by_role("button", name=f"Moderate {user}").click()
    expect(page.locator("#mod-heading")).to_have_text(f"Moderate {user}")


def test_an_owner_edits_the_topic_kicks_and_mutes_from_the_members_panel(open_chat):
    olga = open_chat("olga")
    join(olga, "book-club")
    mia = open_chat("mia")
    join(mia, "book-club")
    expect(olga.locator("#member-list")).to_contain_text("mia")

    # the owner edits the topic; everyone in the room sees it
    olga.get_by_role("button", name="Edit topic").click()
    olga.get_by_label("Room topic").fill("<b>Dune</b> this month")
    olga.locator("#topic-form").get_by_role("button", name="Save").click()
    expect(mia.locator("#room-topic")).to_have_text("<b>Dune</b> this month")
    expect(olga.locator("#room-topic")).to_have_text("<b>Dune</b> this month")
    # a member has no Edit topic and nobody to moderate
    expect(mia.get_by_role("button", name="Edit topic")).to_be_hidden()
    expect(mia.locator("#member-list .mod-button")).to_have_count(0)
    expect(mia.locator("#member-list")).to_contain_text("owner")

    # a mute closes the member's box for that room, with a notice
    moderate(olga, "mia")
    olga.get_by_label("Reason (optional)").fill("cool off")
    olga.get_by_label("Minutes", exact=False).fill("5")
    olga.locator("#mod-panel").get_by_role("button", name="Mute", exact=True).click()
    expect(olga.locator("#mod-status")).to_have_text("mia was muted.")
    box = mia.get_by_label("Message", exact=True)
    expect(box).to_be_disabled()
    expect(box).to_have_attribute("placeholder", re.compile(r"^You are muted in #book-club until "))
    expect(mia.locator("#scroller")).to_contain_text("olga muted you here until")
    expect(mia.locator("#scroller")).to_contain_text("cool off")

    olga.locator("#mod-panel").get_by_role("button", name="Unmute").click()
    expect(olga.locator("#mod-status")).to_have_text("mia was unmuted.")
    expect(box).to_be_enabled()
    expect(mia.locator("#scroller")).to_contain_text("You can write here again.")
    send(mia, "sorry")
    expect(message(olga, "sorry")).to_be_visible()

    # a kick takes the room off the member's page and says why
    olga.get_by_label("Reason (optional)").fill("<i>spoilers</i>")
    olga.locator("#mod-panel").get_by_role("button", name="Kick").click()
    expect(olga.locator("#mod-status")).to_have_text("mia was kicked.")
    expect(mia.locator("#error-text")).to_have_text(
        "You were removed from #book-club by olga: <i>spoilers</i>"
    )
    expect(mia.locator("#my-rooms")).not_to_contain_text("book-club")
    expect(olga.locator("#member-list")).not_to_contain_text("mia")
    # the panel stays for a ban after the kick, until closed
    olga.locator("#mod-panel").get_by_role("button", name="Close").click()
    expect(olga.locator("#mod-panel")).to_be_hidden()
    # a kick is not a ban: she can come back
    join(mia, "book-club")
    expect(olga.locator("#member-list")).to_contain_text("mia")
    assert olga.dialogs == [] and mia.dialogs == []


def test_a_banned_member_is_told_and_cannot_rejoin(open_chat):
    owen = open_chat("owen")
    join(owen, "quiet-room")
    ben = open_chat("ben")
    join(ben, "quiet-room")
    moderate(owen, "ben")
    owen.locator("#mod-panel").get_by_role("button", name="Ban").click()
    expect(owen.locator("#mod-status")).to_have_text("ben was banned.")
    expect(ben.locator("#error-text")).to_have_text(
        "You were banned from #quiet-room by owen until a moderator lifts it."
    )
    ben.get_by_label("Join or create a room").fill("quiet-room")
    ben.get_by_label("Join or create a room").press("Enter")
    expect(ben.locator("#error-text")).to_have_text(
        "You are banned from #quiet-room until a moderator lifts it."
    )
    expect(ben.locator("#my-rooms")).not_to_contain_text("quiet-room")


def test_a_muted_member_who_reloads_still_has_the_box_closed(open_chat):
    opal = open_chat("opal")
    join(opal, "hush-room")
    milo = open_chat("milo")
    join(milo, "hush-room")
    expect(opal.locator("#member-list")).to_contain_text("milo")
    moderate(opal, "milo")
    opal.get_by_label("Minutes", exact=False).fill("30")
    opal.locator("#mod-panel").get_by_role("button", name="Mute", exact=True).click()
    expect(opal.locator("#mod-status")).to_have_text("milo was muted.")
    box = milo.get_by_label("Message", exact=True)
    expect(box).to_be_disabled()

    # the reloaded page never saw `muted`: the join ack's muted_until closes the box again
    milo.reload()
    join(milo, "hush-room")
    expect(box).to_be_disabled()
    expect(box).to_have_attribute("placeholder", re.compile(r"^You are muted in #hush-room until "))
    expect(milo.locator("#scroller")).to_contain_text("You are muted here until")
    # other rooms stay open
    join(milo, "general")
    expect(box).to_be_enabled()
    join(milo, "hush-room")
    expect(box).to_be_disabled()

    # unmuted after the reload: the box opens again
    opal.locator("#mod-panel").get_by_role("button", name="Unmute").click()
    expect(opal.locator("#mod-status")).to_have_text("milo was unmuted.")
    expect(box).to_be_enabled()
    expect(milo.locator("#scroller")).to_contain_text("You can write here again.")
    send(milo, "thanks")
    expect(message(opal, "thanks")).to_be_visible()
    assert opal.dialogs == [] and milo.dialogs == []


def test_an_owner_lifts_a_ban_from_bans_and_mutes_and_the_member_comes_back(open_chat):
    owen = open_chat("owen")
    join(owen, "second-chance")
    bob = open_chat("bob")
    join(bob, "second-chance")
    # a member has no Bans and mutes
    expect(bob.get_by_role("button", name="Bans and mutes")).to_be_hidden()
    moderate(owen, "bob")
    owen.get_by_label("Reason (optional)").fill("<b>shouting</b>")
    owen.locator("#mod-panel").get_by_role("button", name="Ban").click()
    expect(owen.locator("#mod-status")).to_have_text("bob was banned.")
    expect(owen.locator("#member-list")).not_to_contain_text("bob")

    dialog = owen.get_by_role("dialog", name="Bans and mutes in #second-chance")
    owen.get_by_role("button", name="Bans and mutes").click()
    expect(dialog).to_be_visible()
    entry = dialog.locator(".sanction")
    expect(entry).to_have_count(1)
    expect(entry).to_contain_text("bob banned until lifted")
    expect(entry.locator(".sanction-reason")).to_have_text("<b>shouting</b>")  # text, not HTML
    expect(entry).to_contain_text("by owen")
    bob.get_by_label("Join or create a room").fill("second-chance")
    bob.get_by_label("Join or create a room").press("Enter")
    expect(bob.locator("#error-text")).to_contain_text("You are banned from #second-chance")

    dialog.get_by_role("button", name="Unban bob").click()
    expect(owen.locator("#sanctions-status")).to_have_text("bob is no longer banned.")
    expect(dialog.locator(".sanction")).to_have_count(0)
    expect(dialog).to_contain_text("Nobody is banned or muted in #second-chance.")
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()

    join(bob, "second-chance")
    expect(owen.locator("#member-list")).to_contain_text("bob")
    send(bob, "I'll be quieter")
    expect(message(owen, "I'll be quieter")).to_be_visible()
    assert owen.dialogs == [] and bob.dialogs == []
