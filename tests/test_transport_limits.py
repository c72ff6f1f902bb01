"""Transport limits through the Socket.IO test client: connections per user, JSON nesting,
binary packets (the real-server side is tests/reliability/test_transport_limits.py)."""

import logging

import pytest

from app.extensions import socketio
from tests.support.sockets import assert_error, assert_still_works, call, ok

NESTED_DEEP = 20_000  # ~40 KB of brackets: inside one 64 KiB packet


def nested(depth: int, leaf="x"):
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def send_raw(sio_client, encoded: str, *, ack: bool = True):
    """Hand the server one Socket.IO packet as written on the wire (`2` + JSON for an
    event): what a client that builds its own JSON sends. Returns the ack's arguments."""
    sio_client.acks = None
    ack_id = ""
    if ack:
        sio_client.callback_counter += 1
        ack_id = str(sio_client.callback_counter)
    socketio.server._handle_eio_message(sio_client.eio_sid, f"2{ack_id}{encoded}")
    return sio_client.acks["args"] if sio_client.acks else None


def no_tracebacks(caplog) -> list:
    return [r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def test_the_21st_connection_of_a_user_is_refused_and_a_freed_slot_is_reused(server):
    tabs = [server.connect("alice") for _ in range(20)]
    token = server.token("alice")

    extra = server.open(auth={"token": token})
    assert not extra.is_connected()
    assert extra.connect_errors == [{"message": "too_many_connections"}]
    # the twenty stay open and keep answering (one `rooms` each would be over its budget)
    assert all(tab.is_connected() for tab in tabs)
    for tab in tabs:
        assert_error(call(tab, "typing", {"room": "general", "typing": False}), "not_in_room")
    assert_still_works(server.connect("bob"))  # a cap per user, not per server

    tabs.pop().disconnect()
    again = server.open(auth={"token": token})
    assert again.is_connected(), again.connect_errors
    assert_still_works(again)


def test_the_cap_is_a_setting(server_factory):
    server = server_factory(MAX_CONNECTIONS_PER_USER=2)
    for _ in range(2):
        server.connect("carol")
    third = server.open(auth={"token": server.token("carol")})
    assert third.connect_errors == [{"message": "too_many_connections"}]


def test_deeply_nested_json_is_answered_invalid_and_the_connection_carries_on(connect, caplog):
    alice = connect("alice")
    payload = '["message",{"room":"general","text":' + "[" * NESTED_DEEP + "]" * NESTED_DEEP + "}]"
    assert len(payload) < 64 * 1024

    (ack,) = send_raw(alice, payload)
    error = assert_error(ack, "invalid")
    assert "nested more than 64 levels" in error["message"]
    assert send_raw(alice, payload, ack=False) is None  # no ack asked: none given
    assert_still_works(alice)
    assert no_tracebacks(caplog) == []


def test_malformed_json_is_answered_invalid(connect, caplog):
    alice = connect("alice")
    (ack,) = send_raw(alice, '["message",{"room":"general","text":"hi"')
    assert "not valid JSON" in assert_error(ack, "invalid")["message"]
    assert_still_works(alice)
    assert no_tracebacks(caplog) == []


@pytest.mark.parametrize("depth", [50, 62])
def test_nesting_within_the_limit_gets_the_events_own_answer(connect, depth):
    alice = connect("alice")
    ok(call(alice, "join", {"room": "general"}))
    # the payload object is level 2 and its `text` level 3: this nests depth + 2 levels
    ack = call(alice, "message", {"room": "general", "text": nested(depth)})
    error = assert_error(ack, "invalid")
    assert "nested" not in error["message"]  # the `message` event's own check answered


def test_nesting_over_the_limit_through_an_ordinary_client(connect):
    alice = connect("alice")
    ack = call(alice, "message", {"room": "general", "text": nested(63)})
    assert "nested more than 64 levels" in assert_error(ack, "invalid")["message"]


def test_a_binary_event_closes_the_connection(connect):
    alice, bob = connect("alice"), connect("bob")
    alice.emit("message", {"room": "general", "text": b"\x00" * 100})
    assert not alice.is_connected()
    assert_still_works(bob)
