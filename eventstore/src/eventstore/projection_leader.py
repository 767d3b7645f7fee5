"""One active runner per projection and database.

Replicas that share a PostgreSQL read-model database would otherwise share one durable
consumer, split its batches and commit them out of order (a later batch's checkpoint
would make an earlier batch look already applied). A session-level advisory lock elects
one writer per projection; the others stand by, follow the checkpoints for
read-your-writes, and take over when the lock frees (its holder died or stopped).
SQLite files are per process, so there every runner leads.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import Connection, Engine, text

# Held for the length of one DDL transaction so concurrent first starts do not race.
SCHEMA_LOCK_KEY = 0x47_54_5F_44_44_4C  # "GT_DDL"


def lock_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def lock_schema(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SCHEMA_LOCK_KEY})


class Leadership:
    def __init__(self, engine: Engine, name: str) -> None:
        self._engine = engine
        self._key = lock_key(name)
        self._conn: Connection | None = None

    @property
    def needs_election(self) -> bool:
        return self._engine.dialect.name == "postgresql"

    def try_acquire(self) -> bool:
        if not self.needs_election:
            return True
        if self._conn is None:
            self._conn = self._engine.connect()
        held = self._conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self._key})
        acquired = bool(held.scalar())
        self._conn.commit()  # end the implicit transaction; the session lock stays
        return acquired

    def release(self) -> None:
        if self._conn is not None:
            # close() would only return the session to the pool, lock and all.
            self._conn.invalidate()
            self._conn = None
