"""When the network or the server gets in the way: restarts, drops, lost acks, rate limits."""

import re

from playwright.sync_api import expect

from tests.support.browser import join, message, send, texts
from tests.support.realclients import bot, wait_for_event

# A burst of six, then one message every two seconds: the rate-limit test sends seven at
# once; every other user here sends fewer.
SERVER_ENV = {"MESSAGE_RATE": "0.5", "MESSAGE_BURST": "6"}
RECONNECT_MS = 20_000  # socket.io's back-off waits up to 5 s between attempts


def test_server_restart_shows_reconnecting_then_catches_up_and_sends_what_waited(open_chat, live):
    quinn = open_chat("quinn")
    join(quinn, "restart-room")
    send(quinn, "before the restart")
    expect(message(quinn, "before the restart")).not_to_have_class(re.compile(r"\bpending\b"))
    connection = quinn.locator("#connection")

    live.stop()
    expect(connection).to_have_text("Reconnecting…")
    expect(connection).to_have_attribute("data-state", "reconnecting")
    send(quinn, "typed while the server was down")
    waiting = message(quinn, "typed while the server was down")
    expect(waiting).to_contain_text("Waiting for the connection…")

    live.start()
    rosa = bot(live, "rosa")
    rosa.call("join", {"room": "restart-room"})
    for number in (1, 2):
        rosa.call("message", {"room": "restart-room", "text": f"sent meanwhile {number}"})

    expect(connection).to_have_text("Connected", timeout=RECONNECT_MS)
    expect(message(quinn, "typed while the server was down")).not_to_have_class(
        re.compile(r"\bpending\b")
    )
    # Stored once, for everyone in the room. (Asked of the history, not awaited live: quinn's
    # page may be back, and send, before rosa has joined after the restart.)
    stored = rosa.call("history", {"room": "restart-room"})["messages"]
    assert [m["text"] for m in stored if m["user"] == "quinn"] == [
        "before the restart",
        "typed while the server was down",
    ]
    rosa.call("message", {"room": "restart-room", "text": "after the reconnect"})
    expect(message(quinn, "after the reconnect")).to_be_visible()
    expected = {
        "before the restart",
        "sent meanwhile 1",
        "sent meanwhile 2",
        "typed while the server was down",
        "after the reconnect",
    }
    shown = texts(quinn)
    assert sorted(shown) == sorted(expected), shown  # each exactly once
    assert shown[0] == "before the restart" and shown[-1] == "after the reconnect"
    rosa.disconnect()


def test_dropped_connection_catches_up_messages_sent_meanwhile_and_sends_the_pending_one(
    open_chat, live
):
    sam = open_chat("sam")
    join(sam, "offline-room")
    tess = bot(live, "tess")
    tess.call("join", {"room": "offline-room"})
    tess.call("message", {"room": "offline-room", "text": "first"})
    expect(message(sam, "first")).to_be_visible()

    sam.context.set_offline(True)  # the browser's network goes: the WebSocket drops
    connection = sam.locator("#connection")
    expect(connection).to_have_text("Offline")
    for number in (1, 2, 3):
        tess.call("message", {"room": "offline-room", "text": f"missed {number}"})
    send(sam, "written offline")
    expect(message(sam, "written offline")).to_contain_text("Waiting for the connection…")
    expect(message(sam, "missed 1")).to_have_count(0)

    sam.context.set_offline(False)
    expect(connection).to_have_text("Connected", timeout=RECONNECT_MS)
    expect(message(sam, "missed 3")).to_be_visible()
    expect(message(sam, "written offline")).not_to_have_class(re.compile(r"\bpending\b"))
    received = wait_for_event(tess, "message", lambda m: m["user"] == "sam")
    assert received["text"] == "written offline"
    assert texts(sam) == ["first", "missed 1", "missed 2", "missed 3", "written offline"]
    tess.disconnect()


def test_a_send_whose_ack_is_lost_shows_once_after_the_reconnect(open_chat, live):
    """The connection drops after the server got the message but before its answer came."""
    dropped = []

    def cut_after_lost_ack(route):
        server = route.connect_to_server()

        def from_page(frame):
            server.send(frame)
            if "lost ack" in str(frame) and not dropped:
                dropped.append(frame)
                route.close()  # the page never sees the ack or the broadcast

        route.on_message(from_page)

    def setup(context):
        context.route_web_socket(re.compile(r"/socket\.io/"), cut_after_lost_ack)

    uma = open_chat("uma", setup=setup)
    join(uma, "ack-room")
    send(uma, "this is the lost ack message")
    expect(uma.locator("#connection")).to_have_text("Connected", timeout=RECONNECT_MS)
    assert dropped
    shown = message(uma, "this is the lost ack message")
    expect(shown).not_to_have_class(re.compile(r"\bpending\b"))
    expect(shown).to_have_count(1)
    send(uma, "next one")
    expect(message(uma, "next one")).not_to_have_class(re.compile(r"\bpending\b"))
    assert texts(uma) == ["this is the lost ack message", "next one"]


def test_too_fast_is_explained_in_plain_words_and_the_message_is_sent_when_allowed(open_chat):
    olga = open_chat("olga")
    peter = open_chat("peter")
    join(olga, "busy")
    join(peter, "busy")

    words = ["one", "two", "three", "four", "five", "six", "seven"]
    for word in words:
        send(olga, word)
    error = olga.locator("#error-text")
    expect(error).to_have_text("You are sending too fast, trying again in 2 s.")
    expect(message(olga, "seven")).to_contain_text("Sending…")

    expect(message(peter, "seven")).to_be_visible(timeout=8_000)
    expect(error).to_be_hidden()
    expect(message(olga, "seven")).not_to_have_class(re.compile(r"\bpending\b"))
    assert texts(peter) == texts(olga) == words
