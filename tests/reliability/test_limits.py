"""Flood control, packet size and origin checks against a real server over WebSocket."""

import contextlib
import time

import pytest
import requests
import socketio
import websocket

from tests.support.live import live_server
from tests.support.realclients import InOrderClient, connect_as

FAST_HASH = {"PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("limits")
    settings = {
        **FAST_HASH,
        "MESSAGE_RATE": "2",
        "MESSAGE_BURST": "3",
        "TYPING_RATE": "1",
        "TYPING_BURST": "2",
        "FLOOD_STRIKES": "5",
        "CORS_ALLOWED_ORIGINS": "http://chat.allowed.example",
    }
    with live_server(f"sqlite:///{tmp / 'limits.db'}", tmp / "server.log", **settings) as live:
        yield live


def test_rate_limit_answers_with_retry_after_then_disconnects_a_flooder(server):
    flooder = connect_as(server, "flooder", wait_timeout=5)
    bystander = connect_as(server, "bystander", wait_timeout=5)
    reasons = []
    flooder.on("disconnect", reasons.append)
    for sio in (flooder, bystander):
        assert sio.call("join", {"room": "flood"})["ok"]

    acks = [flooder.call("message", {"room": "flood", "text": f"m{n}"}) for n in range(4)]
    assert [ack["ok"] for ack in acks] == [True, True, True, False]
    error = acks[3]["error"]
    assert error["code"] == "rate_limited"
    assert 0 < error["retry_after"] <= 0.5  # one token at 2/s

    assert flooder.call("typing", {"room": "flood", "typing": True})["ok"]
    assert flooder.call("typing", {"room": "flood", "typing": True})["ok"]
    typing = flooder.call("typing", {"room": "flood", "typing": True})
    assert typing["error"]["code"] == "rate_limited"

    # Ignoring the refusals: after FLOOD_STRIKES of them the server closes the connection.
    deadline = time.monotonic() + 5
    while flooder.connected and time.monotonic() < deadline:
        with contextlib.suppress(socketio.exceptions.SocketIOError):  # closed mid-call
            flooder.call("message", {"room": "flood", "text": "spam"}, timeout=2)
    assert not flooder.connected
    assert reasons == [InOrderClient.reason.SERVER_DISCONNECT]

    # others are unaffected, and the flood stored only the three allowed messages
    history = bystander.call("history", {"room": "flood"})
    assert [m["text"] for m in history["messages"]] == ["m0", "m1", "m2"]
    assert bystander.call("message", {"room": "flood", "text": "still fine"})["ok"]
    bystander.disconnect()


def test_text_limits_are_error_acks_and_oversized_packets_close_the_connection(server):
    sender = connect_as(server, "sizer", wait_timeout=5)
    observer = connect_as(server, "observer", wait_timeout=5)
    reasons = []
    sender.on("disconnect", reasons.append)
    for sio in (sender, observer):
        assert sio.call("join", {"room": "sizes"})["ok"]

    assert sender.call("message", {"room": "sizes", "text": "x" * 4000})["ok"]
    too_long = sender.call("message", {"room": "sizes", "text": "x" * 4001})
    assert too_long["error"]["code"] == "too_large"
    # 5000 emoji: ~60 KB as JSON-escaped by this client, still inside one packet: a clean ack
    emoji = sender.call("message", {"room": "sizes", "text": "\U0001f600" * 5000})
    assert emoji["error"]["code"] == "too_large"

    # a packet over 64 KiB is refused by the transport: the connection is closed
    sender.emit("message", {"room": "sizes", "text": "y" * 70_000})
    deadline = time.monotonic() + 5
    while sender.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not sender.connected
    assert reasons == [InOrderClient.reason.TRANSPORT_ERROR]

    history = observer.call("history", {"room": "sizes"})
    assert [len(m["text"]) for m in history["messages"]] == [4000]
    assert observer.call("rooms", {})["ok"]  # the server carries on
    observer.disconnect()


def socket_url(server) -> str:
    return f"ws://127.0.0.1:{server.port}/socket.io/?EIO=4&transport=websocket"


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://127.0.0.1:1"])
def test_forged_origin_cannot_open_a_socket(server, origin):
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(socket_url(server), origin=origin, timeout=5)
    assert refused.value.status_code == 400

    polling = requests.get(
        f"{server.url}/socket.io/?EIO=4&transport=polling", headers={"Origin": origin}, timeout=5
    )
    assert polling.status_code == 400


@pytest.mark.parametrize("origin", ["same", "http://chat.allowed.example"])
def test_same_and_configured_origins_may_open_a_socket(server, origin):
    origin = server.url if origin == "same" else origin
    ws = websocket.create_connection(socket_url(server), origin=origin, timeout=5)
    try:
        assert ws.recv().startswith("0{")  # engine.io OPEN packet
    finally:
        ws.close()


def test_a_client_that_waits_retry_after_is_never_disconnected(tmp_path):
    """A polite bot: on each `rate_limited` it sleeps exactly `retry_after`, then sends the
    next message. Only refusals that ignore an announced time are flood strikes, and the
    announced time always has a token, so it is never closed and never refused after a wait."""
    settings = {
        **FAST_HASH,
        "MESSAGE_RATE": "40",  # fast enough for 200 messages in ~5 s
        "MESSAGE_BURST": "5",
        "EVENT_RATE": "200",
        "EVENT_BURST": "200",
        "FLOOD_STRIKES": "3",  # strict: three strikes would close it
    }
    with live_server(
        f"sqlite:///{tmp_path / 'polite.db'}", tmp_path / "server.log", **settings
    ) as live:
        bot = connect_as(live, "polite", wait_timeout=5)
        reasons = []
        bot.on("disconnect", reasons.append)
        assert bot.call("join", {"room": "polite"})["ok"]
        sent, waits, refused_after_a_wait, just_waited = 0, 0, 0, False
        deadline = time.monotonic() + 60
        while sent < 200 and bot.connected and time.monotonic() < deadline:
            try:
                ack = bot.call("message", {"room": "polite", "text": f"m{sent}"}, timeout=5)
            except socketio.exceptions.SocketIOError:  # closed mid-call
                break
            if ack["ok"]:
                sent, just_waited = sent + 1, False
                continue
            assert ack["error"]["code"] == "rate_limited", ack
            refused_after_a_wait += just_waited
            waits += 1
            time.sleep(ack["error"]["retry_after"])
            just_waited = True
        print(f"polite bot: {sent} sent, {waits} waits, {refused_after_a_wait} refused after one")
        assert reasons == [] and bot.connected, (sent, waits, refused_after_a_wait)
        assert sent == 200
        assert waits >= 100  # it really sent as fast as it was allowed
        assert refused_after_a_wait == 0
        history = bot.call("history", {"room": "polite", "limit": 100})
        assert [m["text"] for m in history["messages"]] == [f"m{n}" for n in range(100, 200)]
        bot.disconnect()
