"""The throwaway databases of a run: SQLite files, one PostgreSQL database, users and tokens."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from bench.processes import server_env
from bench.settings import ROOT, USERS, VENV_BIN, ServerConfig, log
from tests.support.services import PostgresDatabase

# The local PostgreSQL the throwaway database is created in (user postgres, no password).
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PASSWORD = "bench-password-0"  # noqa: S105  (throwaway users in a throwaway database)


def postgres_unavailable() -> str | None:
    """None when PostgreSQL on 127.0.0.1:5432 can be used, else why not."""
    return PostgresDatabase(POSTGRES_ADMIN_URL).reachable()


def postgres_version() -> str:
    """The server version of the local PostgreSQL (e.g. "15.4"), "?" if it does not answer."""
    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3) as connection:
            row = connection.execute("show server_version").fetchone()
    except psycopg.Error:
        return "?"
    return row[0].split()[0] if row and row[0].strip() else "?"


class Databases:
    """Throwaway databases: SQLite files in a temporary directory, and one PostgreSQL database
    made by the tests' PostgresDatabase (created on first use, dropped by `cleanup`)."""

    def __init__(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="chat_bench_"))
        self.postgres: PostgresDatabase | None = None

    def sqlite_url(self, key: str) -> str:
        return f"sqlite:///{self.tmp / (key + '.db')}"

    def postgres_url(self) -> str:
        if self.postgres is None:
            self.postgres = PostgresDatabase(POSTGRES_ADMIN_URL).create()
        return self.postgres.url

    def cleanup(self) -> None:
        """Drop the PostgreSQL database and delete the SQLite files."""
        if self.postgres is not None:
            try:
                self.postgres.drop()
            except psycopg.Error as error:
                log(f"warning: could not drop database {self.postgres.name}: {error}")
            self.postgres = None
        shutil.rmtree(self.tmp, ignore_errors=True)


def init_database(database_url: str, secret: str, log_path: Path) -> None:
    """`flask --app wsgi init-db`, as an operator would run it."""
    env = server_env(os.environ, production=False, database_url=database_url, secret=secret)
    with open(log_path, "ab") as out:
        subprocess.run(
            [str(VENV_BIN / "flask"), "--app", "wsgi", "init-db"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=True,
            timeout=60,
        )


def make_tokens(database_url: str, secret: str, production: bool, count: int) -> list[str]:
    """Register `count` users straight through the domain (no HTTP, fast password hashes) and
    mint one API token each, with the same SECRET_KEY the server uses."""
    from app import create_app
    from app.extensions import db
    from config import DevelopmentConfig, ProductionConfig

    base = ProductionConfig if production else DevelopmentConfig
    config = type(
        "BenchConfig",
        (base,),
        {
            "SECRET_KEY": secret,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
            "SESSION_COOKIE_SECURE": False,
            "REDIS_URL": None,
            "SOCKETIO_ASYNC_MODE": "threading",
        },
    )
    app = create_app(config)
    tokens = []
    with app.app_context():
        accounts = app.extensions["accounts"]
        issuer = app.extensions["tokens"]
        for i in range(count):
            account = accounts.register(f"bench{i:05d}", PASSWORD)
            tokens.append(issuer.issue(account.id))
        db.session.remove()
        db.engine.dispose()
    return tokens


def prepare(
    databases: Databases, configs: list[ServerConfig], secret: str, logs: Path
) -> tuple[dict[str, str], dict[str, Path]]:
    """A throwaway database with USERS users and their tokens for each configuration, all made
    before any server runs; SQLite configurations share one prepared file, copied. Returns the
    database URL of each configuration with storage and the tokens file of every one."""
    urls: dict[str, str] = {}
    tokens_files: dict[str, Path] = {}
    template: tuple[Path, list[str]] | None = None
    for config in configs:
        tokens_file = logs / f"tokens-{config.key}.json"
        tokens_files[config.key] = tokens_file
        if config.database is None:
            tokens_file.write_text(json.dumps(["reference-server-ignores-tokens"]))
            continue
        began = time.monotonic()
        if config.database == "sqlite" and template is not None:
            path = databases.tmp / f"{config.key}.db"
            shutil.copyfile(template[0], path)
            urls[config.key] = f"sqlite:///{path}"
            tokens_file.write_text(json.dumps(template[1]))
            continue
        url = (
            databases.postgres_url()
            if config.database == "postgres"
            else databases.sqlite_url(config.key)
        )
        init_database(url, secret, logs / f"{config.key}-init-db.log")
        tokens = make_tokens(url, secret, config.kind == "gunicorn", USERS)
        tokens_file.write_text(json.dumps(tokens))
        urls[config.key] = url
        if config.database == "sqlite":
            template = (Path(url.removeprefix("sqlite:///")), tokens)
        log(
            f"  {config.key}: database ready, {len(tokens)} users "
            f"in {time.monotonic() - began:.1f} s"
        )
    return urls, tokens_files
