"""The page keeps to the server's budgets by itself: typing signals inside the typing budget,
and the room directory fetched in pages, not polled."""

import json
import re
import time

import socketio
from playwright.sync_api import expect

from tests.support.browser import join
from tests.support.realclients import bot

# The server's default budgets (docs/protocol.md "Flood control"), except room creation: the
# directory test seeds 60 rooms (the setting exists once the server caps room creation).
SERVER_ENV = {"ROOM_CREATE_RATE": "100000"}
TYPING_RATE, TYPING_BURST = 5, 10
EVENT_FRAME = re.compile(r"^42(\d*)(\[.*)$", re.DOTALL)
HIDDEN_TAB = """
Object.defineProperty(document, "hidden", { get: () => window.tabHidden === true });
"""


class Frames:
    """What the page's Socket.IO WebSocket sent and received, and whether it closed."""

    def __init__(self):
        self.sent: list[tuple[float, str, object]] = []  # (when, event, payload)
        self.received: list[str] = []
        self.closed: list[str] = []

    def attach(self, context) -> None:
        def on_websocket(websocket):
            if "/socket.io/" not in websocket.url:
                return
            websocket.on("framesent", self._sent)
            websocket.on("framereceived", lambda payload: self.received.append(str(payload)))
            websocket.on("close", lambda closed: self.closed.append(closed.url))

        context.on("page", lambda page: page.on("websocket", on_websocket))

    def _sent(self, payload) -> None:
        match = EVENT_FRAME.match(str(payload))
        if match:
            event, *data = json.loads(match.group(2))
            self.sent.append((time.monotonic(), event, data[0] if data else None))

    def emits(self, event: str) -> list:
        return [(when, payload) for when, name, payload in self.sent if name == event]


def drain(client: socketio.SimpleClient, timeout: float = 1.0) -> list:
    """Every event `client` has received so far (waiting up to `timeout` for each)."""
    events = []
    while True:
        try:
            events.append(client.receive(timeout=timeout))
        except socketio.exceptions.TimeoutError:
            return events


def test_sending_seven_messages_a_second_stays_inside_the_typing_budget(open_chat, live):
    frames = Frames()
    jo = open_chat("jonas", setup=frames.attach)
    join(jo, "fast-room")
    watcher = bot(live, "kai")
    watcher.call("join", {"room": "fast-room"})
    box = jo.get_by_label("Message", exact=True)

    start = time.monotonic()
    for number in range(30):  # typed and sent at about 7 a second, through the page
        box.fill(f"quick {number}")
        box.press("Enter")
        time.sleep(max(0.0, start + (number + 1) / 7 - time.monotonic()))
    sent = jo.locator("#scroller .message:not(.pending)")
    expect(sent).to_have_count(30, timeout=15_000)
    expect(jo.locator("#connection")).to_have_attribute("data-state", "connected")

    typing = frames.emits("typing")
    assert typing, "the page still says it is typing"
    spread = typing[-1][0] - typing[0][0]
    assert len(typing) <= TYPING_BURST + TYPING_RATE * spread, (len(typing), spread)
    assert not [frame for frame in frames.received if "rate_limited" in frame]
    assert frames.closed == []  # never disconnected as a flooder
    seen = drain(watcher)
    assert [p["text"] for e, p in seen if e == "message"] == [f"quick {n}" for n in range(30)]
    assert any(e == "typing" and p["typing"] for e, p in seen)  # others still see it typing
    assert not [p for e, p in seen if e == "presence" and p["user"] == "jonas"]  # no left/joined
    watcher.disconnect()


def test_the_room_list_is_not_polled_and_refreshes_once_per_burst_when_shown(open_chat, live):
    frames = Frames()

    def setup(context):
        frames.attach(context)
        # The refresh interval, lowered from 60 s so the test can see it pass.
        context.add_init_script("window.chatRoomsRefreshMs = 20000;" + HIDDEN_TAB)

    lu = open_chat("lucia", setup=setup)
    join(lu, "quiet-room")
    expect(lu.locator("#my-rooms .room-button[data-room=quiet-room]")).to_be_visible()
    assert [payload for _, payload in frames.emits("rooms")] == [{"limit": 50}]

    # Others coming and going in the user's rooms are presence events, not a reason to ask.
    visitor = bot(live, "maxim")
    for _ in range(3):
        visitor.call("join", {"room": "quiet-room"})
        expect(lu.locator("#member-list")).to_contain_text("maxim")
        visitor.call("leave", {"room": "quiet-room"})
        expect(lu.locator("#member-list")).not_to_contain_text("maxim")
    visitor.disconnect()
    # Focus and visibility right after the first fetch: too soon to ask again.
    lu.evaluate(
        "dispatchEvent(new Event('focus')); document.dispatchEvent(new Event('visibilitychange'))"
    )

    # Left open (and visible) for longer than the old 30 s poll: nothing is asked.
    lu.wait_for_timeout(32_000)
    assert len(frames.emits("rooms")) == 1

    # Hidden, focus and visibility ask for nothing either.
    lu.evaluate("window.tabHidden = true; document.dispatchEvent(new Event('visibilitychange'))")
    lu.evaluate("dispatchEvent(new Event('focus'))")
    lu.wait_for_timeout(1_000)
    assert len(frames.emits("rooms")) == 1

    # Shown again after the interval: a burst of focus/visibility events makes one request.
    lu.evaluate(
        "window.tabHidden = false;"
        "for (let i = 0; i < 5; i++) {"
        " document.dispatchEvent(new Event('visibilitychange')); dispatchEvent(new Event('focus'));"
        "}"
    )
    deadline = time.monotonic() + 5
    while len(frames.emits("rooms")) < 2 and time.monotonic() < deadline:
        lu.wait_for_timeout(100)
    lu.evaluate("dispatchEvent(new Event('focus'))")
    lu.wait_for_timeout(1_000)
    assert [payload for _, payload in frames.emits("rooms")] == [{"limit": 50}, {"limit": 50}]
    assert frames.closed == []


def seed_rooms(live, count: int, per_bot: int = 20) -> list[str]:
    """`count` public rooms, created by a few bots (each within its own join budget)."""
    names = [f"dir-{number:02d}" for number in range(count)]
    for first in range(0, count, per_bot):
        creator = bot(live, f"maker{first}")
        for name in names[first : first + per_bot]:
            ack = creator.call("join", {"room": name})
            while not ack["ok"] and ack["error"]["code"] == "rate_limited":
                time.sleep(ack["error"]["retry_after"])
                ack = creator.call("join", {"room": name})
            assert ack["ok"], ack
        creator.disconnect()
    return names


def test_show_more_rooms_pages_through_a_long_directory(open_chat, live):
    """Needs the paged `rooms` of the server: fails on a server without it."""
    names = seed_rooms(live, 60)
    frames = Frames()
    mo = open_chat("moana", setup=frames.attach)
    listed = mo.locator('#other-rooms .room-button[data-room^="dir-"]')
    # The first page: 50 rooms by name (all dir-*: they sort before "general").
    expect(listed).to_have_count(50)
    more = mo.get_by_role("button", name="Show more rooms")
    expect(more).to_be_visible()
    more.click()
    expect(listed).to_have_count(60)
    expect(more).to_be_hidden()
    shown = [button.get_attribute("data-room") for button in listed.all()]
    assert shown == names
    assert [payload for _, payload in frames.emits("rooms")] == [
        {"limit": 50},
        {"after": "dir-49", "limit": 50},
    ]
    listed.last.click()  # a room from the second page opens like any other
    expect(mo.locator("#room-name")).to_have_text("#dir-59")
