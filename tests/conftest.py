"""Shared pytest fixtures (an app on a throwaway SQLite file, users, socket clients) and the
tiers: every test that runs a real server carries one of the markers in TIERS."""

import shutil
from pathlib import Path

import pytest

from app import create_app
from app.cli import init_db
from app.extensions import db
from config import TestingConfig
from tests.support.live import LiveServer, live_server
from tests.support.services import RedisServer, unavailable
from tests.support.sockets import Server

TESTS = Path(__file__).parent
# pyproject.toml describes them; `make test-fast` runs the tests that carry none.
TIERS = ("live", "browser", "scaleout", "soak")
# Every test below these folders belongs to the tier, unless its module names another.
FOLDER_TIERS = {"browser": "browser", "scaleout": "scaleout", "reliability": "live"}
# What a module that starts a real server imports (browser and scale-out tests start theirs
# through their folders' fixtures).
REAL_SERVERS = (LiveServer, live_server)


def tiers(item) -> set[str]:
    return {marker.name for marker in item.iter_markers() if marker.name in TIERS}


def pytest_collection_modifyitems(config, items):
    """Mark each test of a tier folder with its tier; refuse to run a test that starts a
    real server but has no tier (it would slip into `make test-fast`)."""
    for item in items:
        folder = item.path.relative_to(TESTS).parts[0]
        if folder in FOLDER_TIERS and not tiers(item):
            item.add_marker(FOLDER_TIERS[folder])
        module = getattr(item, "module", None)
        found = vars(module).items() if module else ()
        uses = [name for name, value in found if any(value is s for s in REAL_SERVERS)]
        if uses and not tiers(item):
            raise pytest.UsageError(
                f"{item.nodeid} starts a real server ({', '.join(uses)}) but has no tier "
                f"marker: add `pytestmark = pytest.mark.live` (or one of {TIERS}) to its module"
            )


def build_app(**settings):
    return create_app(type("TestConfig", (TestingConfig,), settings))


@pytest.fixture(scope="session")
def initialised_database(tmp_path_factory) -> Path:
    """A SQLite file as `init_db` leaves it (every migration, the general room), made once:
    running the migrations took about half of each test_client test's time."""
    path = tmp_path_factory.mktemp("initialised") / "chat.db"
    app = build_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{path}")
    with app.app_context():
        init_db()
        db.engine.dispose()  # the last connection closed: the WAL is checkpointed into the file
    return path


@pytest.fixture
def app_factory(tmp_path, initialised_database):
    """Build an app on its own SQLite file; keyword arguments override config values. The
    test's file starts as a copy of `initialised_database`; an app on a file that exists
    already, or on another database, runs `init_db` itself."""
    own_file = tmp_path / "chat.db"

    def build(**overrides):
        settings = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{own_file}", **overrides}
        fresh = settings["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{own_file}"
        fresh = fresh and not own_file.exists()
        if fresh:
            shutil.copyfile(initialised_database, own_file)
        app = build_app(**settings)
        if not fresh:
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
