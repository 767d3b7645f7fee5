"""The notifier's SQL engine: the shared factory, plus immediate transactions on SQLite.

The read model is fed from three streams at once. SQLite's deferred transactions that read
and then write fail at once with "database is locked" when two of them upgrade together;
`BEGIN IMMEDIATE` makes them wait their turn on the busy timeout instead.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, event

from eventstore.sql import make_engine


def notifier_engine(url: str) -> Engine:
    engine = make_engine(url)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _driver_autocommit(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
