"""Message text is Markdown (protocol "Formatting"): the safe subset renders, and nothing in a
message can run script, load an image or link anywhere but the web and mail."""

from playwright.sync_api import expect

from tests.support.browser import join, message, send
from tests.support.realclients import bot

SERVER_ENV = {"MESSAGE_RATE": "1000", "MESSAGE_BURST": "1000"}


def test_the_markdown_subset_renders_for_the_reader_and_the_writer(open_chat, live):
    fern = open_chat("fern")
    gus = open_chat("gus")
    join(fern, "format-room")
    join(gus, "format-room")

    send(fern, "**bold** and *italic* and ~~gone~~ and `x < y`")
    for page in (fern, gus):
        line = message(page, "bold and").locator(".text")
        expect(line.locator("strong")).to_have_text("bold")
        expect(line.locator("em")).to_have_text("italic")
        expect(line.locator("s")).to_have_text("gone")
        expect(line.locator("code")).to_have_text("x < y")
        expect(line).to_have_text("bold and italic and gone and x < y")

    # Several lines: typed with Shift+Enter, as a person does.
    box = fern.get_by_label("Message", exact=True)
    for number, row in enumerate(["```", "def f():", "    return 1", "```"]):
        if number:
            box.press("Shift+Enter")
        box.press_sequentially(row)
    box.press("Enter")
    code = message(gus, "def f()").locator(".text pre code")
    expect(code).to_be_visible()
    assert code.evaluate("node => node.textContent") == "def f():\n    return 1\n"  # as typed

    send(fern, "> someone said this\n\nand I agree")
    quoted = message(gus, "someone said this").locator(".text")
    expect(quoted.locator("blockquote")).to_have_text("someone said this")
    expect(quoted.locator("p").last).to_have_text("and I agree")

    send(fern, "shopping:\n- milk\n- eggs\n\n1. first\n2. second")
    lists = message(gus, "shopping").locator(".text")
    expect(lists.locator("ul > li")).to_have_text(["milk", "eggs"])
    expect(lists.locator("ol > li")).to_have_text(["first", "second"])

    # One newline is a line break, as people type in a chat.
    send(fern, "line one\nline two")
    expect(message(gus, "line one").locator(".text br")).to_have_count(1)

    send(
        fern,
        "see [the guide](https://example.org/guide) or https://example.com/faq, "
        "mail [me](mailto:f@example.org)",
    )
    links = message(gus, "see the guide").locator(".text a")
    expect(links).to_have_text(["the guide", "https://example.com/faq", "me"])
    hrefs = [link.get_attribute("href") for link in links.all()]
    assert hrefs == ["https://example.org/guide", "https://example.com/faq", "mailto:f@example.org"]
    for link in links.all():
        expect(link).to_have_attribute("target", "_blank")
        expect(link).to_have_attribute("rel", "noopener noreferrer nofollow")

    # Not part of the chat's subset: headings and rules stay text-sized.
    send(fern, "# not a title")
    expect(message(gus, "not a title").locator(".text")).to_have_text("# not a title")
    assert gus.locator("#scroller h1, #scroller hr").count() == 0

    # Each block is its own bidi island (protocol "Message text").
    for block in message(gus, "someone said this").locator(".text p, .text blockquote").all():
        expect(block).to_have_attribute("dir", "auto")


def test_markdown_cannot_script_load_images_or_link_to_javascript(open_chat, live):
    hal = open_chat("hal")
    join(hal, "xss-room")
    eve = bot(live, "eve")
    assert eve.call("join", {"room": "xss-room"})["ok"]
    attacks = [
        "[x](javascript:alert(1))",
        "<img src=x onerror=alert(2)>",
        "<script>alert(3)</script>",
        "[y](JaVaScRiPt:alert(4)) and [z](data:text/html,hi)",
        "<javascript:alert(5)> and [rel](/admin)",
        "![pic](https://example.org/p.png)",
        '<a href="https://example.org" onclick="alert(6)">html link</a>',
        '[w](https://example.org/ "x" onmouseover=alert(7))',
    ]
    for text in attacks:
        assert eve.call("message", {"room": "xss-room", "text": text})["ok"]

    shown = hal.locator("#scroller .message .text")
    expect(shown).to_have_count(len(attacks))
    # No scheme but http, https and mailto becomes a link; raw HTML is text, not elements.
    expect(message(hal, "[x](javascript:alert(1))").locator(".text")).to_have_text(
        "[x](javascript:alert(1))"
    )
    expect(message(hal, "<img src=x").locator(".text")).to_have_text("<img src=x onerror=alert(2)>")
    expect(message(hal, "<script>").locator(".text")).to_have_text("<script>alert(3)</script>")
    expect(message(hal, "html link").locator(".text")).to_have_text(attacks[6])
    for link in hal.locator("#scroller .message .text a").all():
        assert link.get_attribute("href").startswith(("https:", "http:", "mailto:")), (
            link.get_attribute("href")
        )
        assert link.get_attribute("onmouseover") is None and link.get_attribute("onclick") is None
    assert hal.locator("#scroller img, #scroller script, #scroller iframe").count() == 0
    # Images are not in the subset: the reader's browser fetches nothing a message names.
    expect(message(hal, "pic").locator(".text")).to_contain_text("pic")

    for link in hal.locator("#scroller .message .text a").all():
        link.hover()
    assert hal.dialogs == []
    eve.disconnect()
