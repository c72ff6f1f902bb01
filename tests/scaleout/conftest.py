"""Scale-out fixtures: several real server processes sharing one PostgreSQL database and one
Redis, optionally behind nginx.

- `redis_server` (session): a private `redis-server` on a free port (never the machine's own
  Redis at 6379), flushed before each test that starts servers.
- `postgres_database` (session): `chat_test_<random>` on the local PostgreSQL, migrated with
  `flask db upgrade`, dropped WITH (FORCE) at the end. Tests share it: each uses its own room
  and user names.
- `start_servers(count=2, **env)`: that many gunicorn servers (gunicorn.conf.py, APP_ENV=
  production) on free ports, on that database and Redis; stopped after the test, and their
  logs printed when it failed.
- `start_nginx(servers, sticky=True)`: nginx on a free port in front of two of them, running
  the shipped deploy/nginx.conf (ports substituted; `sticky=False` drops its `hash` line).

A missing service (no PostgreSQL, no redis-server, no nginx) skips the tests that need it,
except under CI=true, where it fails them. SCALEOUT_POSTGRES_URL changes the PostgreSQL used.

SCALEOUT_WITHOUT_REDIS=1 is a negative control: the servers start without REDIS_URL, each
with its own in-memory state, so every cross-process test must fail on an assertion (proof
that they detect a missing message queue), while the nginx stickiness tests still pass.
"""

import os

import pytest

from tests.support.live import LiveServer
from tests.support.services import (
    NGINX,
    WITHOUT_REDIS,
    Nginx,
    PostgresDatabase,
    unavailable,
)

SERVER_ENV = {
    "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",  # quick sign-ups; still a real hash
    "GUNICORN_GRACEFUL_TIMEOUT": "3",  # quick, bounded stops after each test
    "GUNICORN_WORKERS": "1",
}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"scaleout_{report.when}", report)


def _failed(request) -> bool:
    """Whether the test using a fixture failed (its logs are then printed)."""
    report = getattr(request.node, "scaleout_call", None)
    return report is not None and report.failed


@pytest.fixture(scope="session")
def redis_server(request):
    """The private Redis (tests/conftest.py), or None under SCALEOUT_WITHOUT_REDIS=1."""
    return None if WITHOUT_REDIS else request.getfixturevalue("private_redis")


@pytest.fixture(scope="session")
def postgres_database(tmp_path_factory):
    database = PostgresDatabase().create()
    try:
        database.migrate(tmp_path_factory.mktemp("postgres") / "migrate.log", **SERVER_ENV)
        yield database
    finally:
        database.drop()


@pytest.fixture
def start_servers(request, redis_server, postgres_database, tmp_path):
    """`start_servers(count=2, **env)` -> list of started LiveServers (gunicorn) on the shared
    database and Redis; `env` adds or overrides environment variables."""
    if redis_server:
        redis_server.flush()
    started: list[LiveServer] = []

    def start(count: int = 2, **env: str) -> list[LiveServer]:
        settings = {**SERVER_ENV, **env}
        if redis_server:
            settings["REDIS_URL"] = redis_server.url
        servers = []
        for n in range(len(started), len(started) + count):
            # gunicorn's control socket defaults to ~/.gunicorn/gunicorn.ctl, one path for
            # every gunicorn of the user: each server gets its own instead.
            runtime = tmp_path / f"run-{n}"
            runtime.mkdir()
            servers.append(
                LiveServer(
                    postgres_database.url,
                    tmp_path / f"server-{n}.log",
                    production=True,
                    init_db=False,
                    **{"XDG_RUNTIME_DIR": str(runtime), **settings},
                )
            )
        for server in servers:  # boot them side by side, then wait for each
            started.append(server.spawn())
        for server in servers:
            server.wait_ready(timeout=30)
        return servers

    yield start

    for server in started:
        if server.process and server.process.poll() is None:
            server.process.terminate()
    for server in started:
        server.stop()
    if _failed(request):
        for server in started:
            print(f"\n--- {server.log_path.name} ({server.url}), last 60 lines ---")
            print("\n".join(server.log_path.read_text(errors="replace").splitlines()[-60:]))


@pytest.fixture(scope="session")
def nginx_binary():
    if not os.access(NGINX, os.X_OK):
        unavailable(f"{NGINX} is missing: `make nginx` installs it (apt-get install nginx) as root")
    return NGINX


@pytest.fixture
def start_nginx(request, nginx_binary, tmp_path):
    """`start_nginx(servers, sticky=True)` -> a started Nginx in front of two servers."""
    running: list[Nginx] = []

    def start(servers: list[LiveServer], *, sticky: bool = True) -> Nginx:
        folder = tmp_path / f"nginx-{len(running)}"
        folder.mkdir()
        backends = [f"127.0.0.1:{server.port}" for server in servers]
        nginx = Nginx(folder, backends, sticky=sticky)
        running.append(nginx)
        return nginx.start()

    yield start

    for nginx in running:
        nginx.stop()
    if _failed(request):
        for nginx in running:
            print(f"\n--- nginx {nginx.folder.name} error log ---\n{nginx.logs()[-4000:]}")
