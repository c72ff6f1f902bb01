"""The page against the production server (gunicorn + gevent) in WebSocket-only mode: the
transport of deployment shape b, and the broadcast path that writes prepared frames."""

import re

from playwright.sync_api import expect

from tests.support.browser import message, send, texts

PRODUCTION = True
SERVER_ENV = {"SOCKETIO_TRANSPORTS": "websocket"}


def test_two_people_chat_over_websocket_only_on_gunicorn(open_chat):
    websockets = []

    def record_websockets(context):
        context.on("page", lambda page: page.on("websocket", lambda ws: websockets.append(ws)))

    alice = open_chat("alice", setup=record_websockets)
    bob = open_chat("bob")
    expect(alice.locator("#member-list")).to_contain_text("bob")

    for n in range(5):
        send(alice, f"from alice {n}")
    # bob answers what he has seen: his message is stored after alice's five
    expect(message(bob, "from alice 4")).to_contain_text("alice")
    send(bob, "a café ☕ and <b>no markup</b>")
    expect(message(alice, "no markup")).to_have_count(1)
    assert texts(bob) == [*(f"from alice {n}" for n in range(5)), "a café ☕ and <b>no markup</b>"]
    assert texts(alice) == texts(bob)
    assert message(alice, "no markup").locator("b").count() == 0

    # the page opened its socket as a WebSocket straight away: no long-polling request
    assert [ws.url for ws in websockets if "/socket.io/" in ws.url]
    assert all(re.search(r"transport=websocket", ws.url) for ws in websockets)
