"""Several processes started at the same moment on one database all migrate it and start."""

import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from app.factory import MIGRATIONS_DIR
from tests.support.live import ROOT
from tests.support.services import PostgresDatabase, wait_until

PROCESSES = 4
COMMANDS = ("init-db", "db upgrade")
# Without the migration lock every round so far had at least one of the four die (3 of 3 on
# PostgreSQL, 3 of 3 on SQLite); two rounds make a lucky pass unlikely.
ROUNDS = 2

# Both ways in: `flask init-db` (what `make run` and `make serve` run first) and `flask db
# upgrade` (docs/deploy.md), each with the slow part (imports, building the app) done before
# a shared start line, so that the four race for the database as processes started together
# by a process manager do.
DRIVER = """
import os, sys, time
from pathlib import Path
import wsgi
Path(os.environ["READY"]).touch()
while not os.path.exists(os.environ["GO"]):
    time.sleep(0.001)
from flask.cli import main
sys.argv = ["flask", *os.environ["COMMAND"].split()]
main()
"""


def start_together(database_url: str, folder: Path) -> list[subprocess.CompletedProcess]:
    """Run `flask init-db` and `flask db upgrade` in PROCESSES processes (alternately)
    released at one instant; their results."""
    go = folder / "go"
    env = {
        **os.environ,
        "APP_ENV": "production",
        "SECRET_KEY": "concurrent-start-secret-key-0123456789",
        "DATABASE_URL": database_url,
        "FLASK_APP": "wsgi",
        "GO": str(go),
    }
    env.pop("REDIS_URL", None)
    processes, ready = [], []
    for n in range(PROCESSES):
        ready.append(folder / f"ready-{n}")
        processes.append(
            subprocess.Popen(
                [sys.executable, "-c", DRIVER],
                cwd=ROOT,
                env={**env, "READY": str(ready[-1]), "COMMAND": COMMANDS[n % 2]},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    try:
        assert wait_until(lambda: all(path.exists() for path in ready), timeout=60)
        go.touch()
        return [
            subprocess.CompletedProcess(p.args, p.wait(timeout=60), p.stdout.read(), None)
            for p in processes
        ]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
            process.stdout.close()


def assert_all_started(results: list[subprocess.CompletedProcess]) -> None:
    failures = [r.stdout[-2000:] for r in results if r.returncode != 0]
    assert not failures, "\n---\n".join(failures)
    init_db = [r for n, r in enumerate(results) if COMMANDS[n % 2] == "init-db"]
    assert all("Database ready" in r.stdout for r in init_db)


HEAD = ScriptDirectory(MIGRATIONS_DIR).get_current_head()


def assert_at_head_with_one_general(connection) -> None:
    """The schema is at the newest migration and `general` was seeded exactly once."""
    versions = connection.execute("SELECT version_num FROM alembic_version").fetchall()
    general = connection.execute("SELECT count(*) FROM rooms WHERE name = 'general'").fetchone()
    assert [tuple(row) for row in versions] == [(HEAD,)]
    assert tuple(general) == (1,)


@pytest.mark.timeout(240)
def test_four_processes_migrating_one_fresh_postgresql_database_at_once_all_succeed(tmp_path):
    for round_ in range(ROUNDS):
        database = PostgresDatabase().create()
        try:
            folder = tmp_path / f"round-{round_}"
            folder.mkdir()
            assert_all_started(start_together(database.url, folder))

            import psycopg

            with psycopg.connect(database.url, connect_timeout=3) as connection:
                assert_at_head_with_one_general(connection)
        finally:
            database.drop()


@pytest.mark.timeout(240)
def test_four_processes_migrating_one_fresh_sqlite_file_at_once_all_succeed(tmp_path):
    for round_ in range(ROUNDS):
        folder = tmp_path / f"round-{round_}"
        folder.mkdir()
        path = folder / "chat.db"
        assert_all_started(start_together(f"sqlite:///{path}", folder))

        with closing(sqlite3.connect(path)) as connection:
            assert_at_head_with_one_general(connection)
