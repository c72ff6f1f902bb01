"""One migration at a time per database, so any number of processes can start at once."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, text

# pg_advisory_lock's key: any fixed 64-bit number that nothing else on the database uses
# ("chatmigr" in ASCII).
MIGRATION_LOCK_KEY = int.from_bytes(b"chatmigr", "big", signed=True)


@contextmanager
def migration_lock(connection: Connection) -> Iterator[None]:
    """Hold the database's migration lock for the block; another process taking it waits
    until this one is done, then finds the schema already at head.

    PostgreSQL: a session-level advisory lock on `connection` (released at the latest when
    its session ends, even if the process dies). SQLite: an exclusive flock on
    `<database file>.migrate.lock` (released when the process ends). An in-memory database
    belongs to one connection and needs no lock; other databases are not locked."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        with _advisory_lock(connection):
            yield
    elif dialect == "sqlite" and _sqlite_file(connection):
        with _file_lock(Path(f"{_sqlite_file(connection)}.migrate.lock")):
            yield
    else:
        yield


@contextmanager
def _advisory_lock(connection: Connection) -> Iterator[None]:
    connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    # A session-level lock outlives this transaction: alembic then begins its own.
    connection.commit()
    try:
        yield
    finally:
        connection.rollback()  # whatever a failed migration left open
        connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
        connection.commit()


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    import fcntl  # POSIX only: imported here so that importing this module works anywhere

    with path.open("a") as handle:
        # alembic's DDL on SQLite is not one transaction (CREATE TABLE commits by itself), so
        # a database lock would not cover it: a file lock held across the whole upgrade does.
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _sqlite_file(connection: Connection) -> str | None:
    database = connection.engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database
