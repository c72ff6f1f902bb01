"""Real server, real clients: `flask run` on a free port and python-socketio over WebSocket."""

import contextlib

import pytest
import socketio

from tests.support.live import live_server
from tests.support.realclients import bot

pytestmark = pytest.mark.live


def test_two_clients_chat_over_websocket_and_history_survives_restart(tmp_path):
    database_url = f"sqlite:///{tmp_path / 'live.db'}"
    with live_server(database_url, tmp_path / "server.log") as server:
        alice = bot(server, "alice")
        bob = bot(server, "bob")
        assert alice.client.transport() == "websocket"
        rooms = alice.call("rooms", {})
        assert rooms["ok"] and [r["name"] for r in rooms["rooms"]] == ["general"]

        assert alice.call("join", {"room": "general"})["members"] == ["alice"]
        assert bob.call("join", {"room": "general"})["members"] == ["alice", "bob"]
        assert alice.receive(timeout=5) == [
            "presence",
            {"room": "general", "user": "bob", "status": "joined"},
        ]

        ack = alice.call("message", {"room": "general", "text": "hi bob", "client_id": "c1"})
        assert ack["ok"] and ack["message"]["id"] == 1
        assert bob.receive(timeout=5) == ["message", ack["message"]]
        assert alice.receive(timeout=5) == ["message", ack["message"]]  # sender's tab too

        reply = bob.call("message", {"room": "general", "text": "hello alice"})
        assert alice.receive(timeout=5) == ["message", reply["message"]]
        assert bob.call("typing", {"room": "general", "typing": True}) == {"ok": True}
        assert alice.receive(timeout=5) == [
            "typing",
            {"room": "general", "user": "bob", "typing": True},
        ]
        assert bob.call("nonsense", {})["error"]["code"] == "invalid"

        bob.disconnect()
        assert alice.receive(timeout=5) == [
            "presence",
            {"room": "general", "user": "bob", "status": "left"},
        ]
        alice.disconnect()

    with live_server(database_url, tmp_path / "server.log") as server:
        carol = bot(server, "carol")
        joined = carol.call("join", {"room": "general"})
        assert [(m["id"], m["user"], m["text"]) for m in joined["messages"]] == [
            (1, "alice", "hi bob"),
            (2, "bob", "hello alice"),
        ]
        carol.disconnect()


def test_connection_without_valid_token_is_refused_with_unauthorized(tmp_path):
    with live_server(f"sqlite:///{tmp_path / 'live.db'}", tmp_path / "server.log") as server:
        for auth in (None, {"token": "forged"}):
            client = socketio.Client(reconnection=False)
            refusals = []
            client.on("connect_error", refusals.append)
            with contextlib.suppress(socketio.exceptions.ConnectionError):
                client.connect(server.url, auth=auth, transports=["websocket"], wait_timeout=5)
            assert refusals == [{"message": "unauthorized"}]
            assert not client.connected
