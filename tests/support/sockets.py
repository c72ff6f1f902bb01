"""Helpers for test_client tests: acks, errors, message shapes, the app's users, and `Server`
(one app with its users and Socket.IO test clients)."""

import re

from flask_socketio.test_client import SocketIOTestClient
from socketio import packet

from app.extensions import db, socketio
from app.storage.models import User
from tests.support.accounts import assert_error_object, login_form, register, sign_up

GENERAL_TOPIC = "Everyone's room: say hello"
ERROR_CODES = {
    "invalid",
    "unauthorized",
    "forbidden",
    "not_found",
    "not_in_room",
    "rate_limited",
    "too_large",
    "internal",
}
# A room's staff fields (docs/protocol.md "Moderation") when nobody owns or moderates it, as a
# member sees them: also what every private room says.
NO_STAFF = {"owner": None, "moderators": [], "role": "member", "muted_until": None}
MESSAGE_KEYS = {
    "id", "room", "user", "text", "ts", "client_id",
    "reply_to", "edited_at", "deleted", "reactions", "rev",
}  # fmt: skip
# A join (or dm) ack's fields, "ok" included (docs/protocol.md `join`)
JOIN_ACK_KEYS = {"ok", "room", "members", "messages", "has_more", "updates", "updates_truncated"}
TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def owned(owner: str, role: str = "member") -> dict:
    """The staff fields of a room `owner` created (no moderators), as someone of `role` sees
    them (not muted there)."""
    return {"owner": owner, "moderators": [], "role": role, "muted_until": None}


def ok(ack) -> dict:
    """A successful ack: an object with `ok: true`."""
    assert isinstance(ack, dict), ack
    assert ack.get("ok") is True, ack
    return ack


def assert_error(ack, code: str) -> dict:
    """An error ack of exactly the documented shape; returns its `error` object."""
    assert code in ERROR_CODES
    assert isinstance(ack, dict), ack
    assert set(ack) == {"ok", "error"}, ack
    assert ack["ok"] is False, ack
    return assert_error_object(ack["error"], code, ack)


def assert_message(message, *, id, room, user, text, client_id=None):
    """A Message object of the documented shape with exactly these values."""
    assert isinstance(message, dict), message
    assert set(message) == MESSAGE_KEYS, message
    assert message["id"] == id, message
    assert isinstance(message["id"], int), message
    assert not isinstance(message["id"], bool), message
    assert message["room"] == room, message
    assert message["user"] == user, message
    assert message["text"] == text, message
    assert message["client_id"] == client_id, message
    assert isinstance(message["ts"], str), message
    assert TS_RE.fullmatch(message["ts"]), message


def call(sio_client, event: str, *args) -> dict:
    """Emit and return the ack; every event must be answered, always with an object."""
    ack = sio_client.emit(event, *args, callback=True)
    assert isinstance(ack, dict), f"{event} answered {ack!r}"
    return ack


def join(sio_client, room: str = "general", **fields) -> dict:
    return ok(call(sio_client, "join", {"room": room, **fields}))


def say(sio_client, text: str, room: str = "general", **fields) -> dict:
    """Post a message; returns the Message object from the ack."""
    ack = ok(call(sio_client, "message", {"room": room, "text": text, **fields}))
    assert set(ack) == {"ok", "message"}, ack
    return ack["message"]


def assert_still_works(sio_client) -> None:
    """The connection stays open and keeps answering after an error."""
    assert sio_client.is_connected()
    ok(call(sio_client, "rooms", {}))


def drain(*clients) -> None:
    for sio_client in clients:
        events(sio_client)


def assert_no_events(*clients) -> None:
    """None of these test clients received anything since it was last drained."""
    received = [events(sio_client) for sio_client in clients]
    assert received == [[] for _ in clients], received


def room_list(sio_client) -> dict[str, dict]:
    ack = ok(call(sio_client, "rooms", {}))
    assert set(ack) == {"ok", "rooms", "next"}, ack
    return {room["name"]: room for room in ack["rooms"]}


def user_id(app, username: str) -> int:
    with app.app_context():
        return app.extensions["accounts"].repository.find_by_username(username).id


def user_count(app) -> int:
    """How many accounts the app's database holds."""
    with app.app_context():
        return db.session.query(User).count()


class RecordingTestClient(SocketIOTestClient):
    """The Flask-SocketIO test client, also keeping the payloads of `connect_error` packets."""

    def connect(self, namespace=None, query_string=None, headers=None, auth=None):
        self.connect_errors = []
        server = self.socketio.server
        send_packet = server._send_packet

        def record(eio_sid, pkt):
            if eio_sid == self.eio_sid and pkt.packet_type == packet.CONNECT_ERROR:
                self.connect_errors.append(pkt.data)
            send_packet(eio_sid, pkt)

        server._send_packet = record
        try:
            super().connect(namespace, query_string, headers, auth)
        finally:
            server._send_packet = send_packet


class Server:
    """One app plus its users and Socket.IO test clients: behind the `server` and `connect`
    fixtures, and `server_factory` for apps with config overrides."""

    def __init__(self, app):
        self.app = app
        self.tokens: dict[str, str] = {}
        self.clients: list[SocketIOTestClient] = []

    def token(self, username: str) -> str:
        """The bearer token of `username`, who is registered (accounts.sign_up) on first use."""
        if username not in self.tokens:
            self.tokens[username] = sign_up(self.app.test_client(), username)
        return self.tokens[username]

    def open(self, **kwargs) -> RecordingTestClient:
        """A socket client with any handshake; check `is_connected()` yourself."""
        sio_client = RecordingTestClient(self.app, socketio, **kwargs)
        self.clients.append(sio_client)
        return sio_client

    def connect(self, username: str) -> RecordingTestClient:
        """A connected test client of `username` (registered on first use)."""
        sio_client = self.open(auth={"token": self.token(username)})
        assert sio_client.is_connected(), sio_client.connect_errors
        return sio_client

    def logged_in_http(self, username: str):
        """A Flask test client holding a browser session cookie for `username` (registered
        now)."""
        http = self.app.test_client()
        assert register(http, username).status_code == 201
        response = login_form(http, username)
        assert response.status_code == 302, response.status_code
        return http

    def close(self) -> None:
        for sio_client in self.clients:
            if sio_client.is_connected():
                sio_client.disconnect()


def assert_refused(sio_client) -> None:
    """The handshake was refused with `connect_error` {"message": "unauthorized"}."""
    assert not sio_client.is_connected()
    assert sio_client.connect_errors == [{"message": "unauthorized"}]


def events(sio_client, name: str | None = None) -> list:
    """Drain what a test client received: the payloads of `name`, or (name, payload) pairs."""
    # The test client unwraps the argument list of "message" events only (legacy send()).
    received = [
        (item["name"], item["args"] if item["name"] == "message" else item["args"][0])
        for item in sio_client.get_received()
    ]
    if name is None:
        return received
    return [payload for event, payload in received if event == name]
