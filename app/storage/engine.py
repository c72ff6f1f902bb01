"""Database URL defaults and the SQLite settings that make it safe with many threads."""

import sqlite3
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine


def default_sqlite_url(instance_path: str) -> str:
    Path(instance_path).mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{Path(instance_path) / 'chat.db'}"


def normalise_database_url(url: str) -> str:
    """Accept the postgres:// spelling Heroku-style hosts hand out; use psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


@event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection, _record) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cursor = dbapi_connection.cursor()
    # WAL lets readers work while a message is written; synchronous=NORMAL in WAL mode keeps
    # every commit across a process crash (only an OS crash can lose the last commits).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.close()
