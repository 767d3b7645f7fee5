"""SQL engines for read models: SQLite (WAL file) by default, PostgreSQL by URL."""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event

log = logging.getLogger(__name__)

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


# How often `WalCheckpointer` copies the WAL's committed pages into the database file.
CHECKPOINT_EVERY = 0.5  # seconds


class WalCheckpointer:
    """Checkpoints a SQLite file's WAL from a thread of its own, off the writer's path.

    By default the connection whose commit takes the WAL past 1,000 pages copies them into
    the database file (and syncs it twice) inside that commit: with the projector's read
    models writing ~100 events/s, every few seconds a live commit (and every read model
    waiting for the writer behind it) paid for a checkpoint. Here the writers never
    checkpoint (`wal_autocheckpoint=0` on the engine's connections); this thread makes a
    PASSIVE checkpoint every `CHECKPOINT_EVERY` seconds, beside them: it neither waits for
    nor blocks writers or readers, and SQLite runs it without the GIL. A failed checkpoint
    is logged and tried again; a stop makes a last one.
    """

    def __init__(self, engine: Engine, every: float = CHECKPOINT_EVERY) -> None:
        self.database = str(engine.url.database)
        self._every = every
        self._stop = threading.Event()
        self.checkpoints = 0  # made (for tests and operators)

        @event.listens_for(engine, "connect")
        def _no_autocheckpoint(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")

        self._thread = threading.Thread(
            target=self._run, name=f"sqlite-checkpoint-{Path(self.database).name}", daemon=True
        )

    @classmethod
    def start_for(cls, engine: Engine, every: float = CHECKPOINT_EVERY) -> WalCheckpointer | None:
        """For an engine on a SQLite file, before its first connection; else None."""
        database = engine.url.database
        if engine.dialect.name != "sqlite" or not database or database == ":memory:":
            return None
        checkpointer = cls(engine, every)
        checkpointer._thread.start()
        return checkpointer

    def _run(self) -> None:
        connection: sqlite3.Connection | None = None
        try:
            while not self._stop.wait(self._every):
                connection = self._turn(connection)
            self._turn(connection)
        finally:
            if connection is not None:
                connection.close()

    def _turn(self, connection: sqlite3.Connection | None) -> sqlite3.Connection | None:
        if connection is None:
            if not Path(self.database).exists():  # the engine creates it (in WAL mode)
                return None
            connection = sqlite3.connect(self.database, timeout=30, check_same_thread=False)
        self.checkpoint(connection)
        return connection

    def checkpoint(self, connection: sqlite3.Connection) -> None:
        try:
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            self.checkpoints += 1
        except sqlite3.Error as exc:  # the next turn tries again
            log.warning("WAL checkpoint of %s failed: %s", self.database, exc)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
