"""What a person does on the chat page, and what they see there, for the browser tests."""

from playwright.sync_api import Page, expect

DESKTOP = {"width": 1280, "height": 800}
TIMEOUT_MS = 10_000


def send(page: Page, text: str) -> None:
    """Type a message and press Enter, as a person does."""
    page.get_by_label("Message", exact=True).fill(text)
    page.get_by_label("Message", exact=True).press("Enter")


def join(page: Page, typed: str, room: str | None = None) -> None:
    """Join a room by typing its name (`room`: the name it should become) and pressing Enter."""
    page.get_by_label("Join or create a room").fill(typed)
    page.get_by_label("Join or create a room").press("Enter")
    expect(page.locator("#room-name")).to_have_text(f"#{room or typed}")
    expect(page.locator("#history-status")).not_to_have_text("Loading messages…")


def texts(page: Page) -> list[str]:
    """The texts of the sent messages on screen, top to bottom."""
    return page.locator("#scroller .message:not(.pending) .text").all_inner_texts()


def message(page: Page, text: str):
    return page.locator("#scroller .message").filter(has=page.locator(".text", has_text=text))
