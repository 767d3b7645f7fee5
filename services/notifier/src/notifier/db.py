"""The notifier's SQL engine: the shared factory, with immediate transactions on SQLite.

The read model is fed from three streams at once. SQLite's deferred transactions that read
and then write fail at once with "database is locked" when two of them upgrade together;
`BEGIN IMMEDIATE` makes them wait their turn on the busy timeout instead.
"""

from __future__ import annotations

from sqlalchemy import Engine

from eventstore.sql import make_engine


def notifier_engine(url: str) -> Engine:
    return make_engine(url, sqlite_begin="BEGIN IMMEDIATE")
