"""Shared pytest fixtures: an app on a throwaway SQLite file, users, tokens, socket clients."""

import pytest

from app import create_app
from app.cli import init_db
from config import TestingConfig
from tests.support.services import RedisServer, unavailable
from tests.support.sockets import Server


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


@pytest.fixture
def connect(server):
    """`connect(username)`: a connected Socket.IO test client on the default test app
    (`server.connect`; the user is registered on first use)."""
    return server.connect


@pytest.fixture(scope="session")
def private_redis(tmp_path_factory):
    """A redis-server of the tests' own on a free port: never the machine's shared one."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    if not server.binary:
        unavailable("redis-server is missing: apt-get install redis-server")
    server.start()
    yield server
    server.stop()
