"""Helpers for Socket.IO test_client tests: acks, errors, and a per-app client factory."""

from flask_socketio.test_client import SocketIOTestClient
from socketio import packet

from app.extensions import socketio

PASSWORD = "correct horse battery"
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
    error = ack["error"]
    assert error["code"] == code, ack
    assert isinstance(error["message"], str), ack
    assert error["message"].strip(), ack
    if code == "rate_limited":
        assert set(error) == {"code", "message", "retry_after"}, ack
        retry_after = error["retry_after"]
        assert isinstance(retry_after, int | float), ack
        assert not isinstance(retry_after, bool), ack
        assert retry_after > 0, ack
    else:
        assert set(error) == {"code", "message"}, ack
    return error


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


def room_list(sio_client) -> dict[str, dict]:
    ack = ok(call(sio_client, "rooms", {}))
    assert set(ack) == {"ok", "rooms", "next"}, ack
    return {room["name"]: room for room in ack["rooms"]}


def user_id(app, username: str) -> int:
    with app.app_context():
        return app.extensions["accounts"].repository.find_by_username(username).id


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
    """One app plus its users and socket clients (for apps built with config overrides)."""

    def __init__(self, app):
        self.app = app
        self.tokens: dict[str, str] = {}
        self.clients: list[SocketIOTestClient] = []

    def register(self, username: str) -> None:
        http = self.app.test_client()
        created = http.post("/api/users", json={"username": username, "password": PASSWORD})
        assert created.status_code == 201, created.get_json()

    def new_token(self, username: str) -> str:
        http = self.app.test_client()
        issued = http.post("/api/tokens", json={"username": username, "password": PASSWORD})
        assert issued.status_code == 201, issued.get_json()
        return issued.get_json()["token"]

    def token(self, username: str) -> str:
        if username not in self.tokens:
            self.register(username)
            self.tokens[username] = self.new_token(username)
        return self.tokens[username]

    def open(self, **kwargs) -> RecordingTestClient:
        """A socket client with any handshake; check `is_connected()` yourself."""
        sio_client = RecordingTestClient(self.app, socketio, **kwargs)
        self.clients.append(sio_client)
        return sio_client

    def connect(self, username: str) -> RecordingTestClient:
        sio_client = self.open(auth={"token": self.token(username)})
        assert sio_client.is_connected(), sio_client.connect_errors
        return sio_client

    def logged_in_http(self, username: str, *, register: bool = True):
        """A Flask test client holding a browser session cookie for `username`."""
        if register:
            self.register(username)
        http = self.app.test_client()
        response = http.post("/auth/login", data={"username": username, "password": PASSWORD})
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
