"""Shared pytest fixtures: an app on a throwaway SQLite file, users, tokens, socket clients."""

import pytest

from app import create_app
from app.cli import init_db
from app.extensions import socketio
from config import TestingConfig
from tests.scaleout.services import RedisServer, unavailable
from tests.sockets import PASSWORD, Server


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


@pytest.fixture
def server_factory(app_factory):
    """Build a Server on an app with config overrides (one per test)."""
    servers: list[Server] = []

    def build(**overrides) -> Server:
        server = Server(app_factory(**overrides))
        servers.append(server)
        return server

    yield build
    for server in servers:
        server.close()


@pytest.fixture
def server(app):
    """A Server on the default test app."""
    built = Server(app)
    yield built
    built.close()


@pytest.fixture(scope="session")
def private_redis(tmp_path_factory):
    """A redis-server of the tests' own on a free port: never the machine's shared one."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    if not server.binary:
        unavailable("redis-server is missing: apt-get install redis-server")
    server.start()
    yield server
    server.stop()
