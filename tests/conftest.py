"""Shared pytest fixtures: an app on a throwaway SQLite file, users, tokens, socket clients."""

import pytest

from app import create_app
from app.cli import init_db
from app.extensions import socketio
from config import TestingConfig

PASSWORD = "correct horse battery"


@pytest.fixture
def app_factory(tmp_path):
    """Build an app on its own SQLite file; keyword arguments override config values."""

    def build(**overrides):
        settings = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'chat.db'}", **overrides}
        config = type("TestConfig", (TestingConfig,), settings)
        app = create_app(config)
        with app.app_context():
            init_db()
        return app

    return build


@pytest.fixture
def app(app_factory):
    return app_factory()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_user(app):
    """Register a user through the API; returns its bearer token."""

    def make(username: str, password: str = PASSWORD) -> str:
        http = app.test_client()
        created = http.post("/api/users", json={"username": username, "password": password})
        assert created.status_code == 201, created.get_json()
        issued = http.post("/api/tokens", json={"username": username, "password": password})
        assert issued.status_code == 201, issued.get_json()
        return issued.get_json()["token"]

    return make


@pytest.fixture
def connect(app, make_user):
    """A connected Socket.IO test client for `username` (registered on first use)."""
    tokens: dict[str, str] = {}
    clients = []

    def open_client(username: str):
        if username not in tokens:
            tokens[username] = make_user(username)
        sio_client = socketio.test_client(app, auth={"token": tokens[username]})
        assert sio_client.is_connected()
        clients.append(sio_client)
        return sio_client

    yield open_client
    for sio_client in clients:
        if sio_client.is_connected():
            sio_client.disconnect()


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
