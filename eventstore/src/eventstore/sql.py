"""SQL engines for read models: SQLite (WAL file) by default, PostgreSQL by URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event

# A SQLite writer that reads then writes (a projection batch) must take the write lock at
# BEGIN: two deferred transactions upgrading together fail at once with "database is
# locked", while BEGIN IMMEDIATE waits its turn on the busy timeout. Readers stay deferred.
WRITER = {"sqlite_begin": "BEGIN IMMEDIATE"}


def make_engine(url: str, *, sqlite_begin: str = "BEGIN", **options: Any) -> Engine:
    """`sqlite_begin`: the statement that opens a SQLite transaction (e.g. BEGIN IMMEDIATE)."""
    if url.startswith("sqlite"):
        database = url.split("///", 1)[-1]
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **options
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # pysqlite opens transactions lazily, so a SAVEPOINT (begin_nested) would start
            # and RELEASE would commit the outer transaction: a projection's rows would be
            # committed apart from its checkpoint. Let SQLAlchemy emit BEGIN itself.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            # WAL lets readers (the gateway) run while the projection writes.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # Writers may ask per connection: execution_options(sqlite_begin="BEGIN IMMEDIATE").
            conn.exec_driver_sql(conn.get_execution_options().get("sqlite_begin", sqlite_begin))

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True, **options)
