"""The identity store: the one place where a pseudonym meets the person it stands for.

It is deliberately apart from the event log and the read models (its own database,
`GT_IDENTITY_DATABASE_URL`): erasing a person is a DELETE here, while the log, which only
ever held the pseudonym, stays as it was and keeps verifying. SQLite runs with
`secure_delete` and a rollback journal (not WAL), so an erased row is overwritten in the file
rather than left in free pages or an old WAL frame.
"""

from __future__ import annotations

import secrets
import threading
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    MetaData,
    String,
    Table,
    create_engine,
    delete,
    event,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import StaticPool

metadata = MetaData()
identities = Table(
    "identities",
    metadata,
    Column("pseudonym", String(40), primary_key=True),
    # Wider than any subject the gateway accepts (gateway.auth.SUBJECT_MAX_LENGTH, 255).
    Column("subject", String(300), nullable=False, unique=True),
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("last_seen", DateTime(timezone=True), nullable=False),
)


def new_pseudonym() -> str:
    return f"p-{secrets.token_hex(16)}"  # random: nothing about the person can be derived


def identity_engine(url: str | None) -> Engine:
    """`None`: in memory (tests, and a gateway whose operator chose to keep no mapping)."""
    if url is None or url in ("sqlite://", "sqlite:///:memory:"):
        engine = create_engine(
            "sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool
        )
    elif url.startswith("sqlite"):
        from pathlib import Path

        Path(url.split("///", 1)[-1]).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
    else:
        return create_engine(url, pool_pre_ping=True)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA secure_delete=ON")  # freed pages are zeroed, not kept
        cursor.execute("PRAGMA journal_mode=DELETE")  # no WAL frames outliving an erasure
        cursor.close()

    return engine


@dataclass(frozen=True)
class Erased:
    pseudonym: str
    subject: str


class IdentityStore:
    """subject <-> pseudonym, one pseudonym per subject while the mapping lives."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # In memory, every thread shares one SQLite connection (StaticPool): two requests'
        # transactions interleaved on it ("cannot commit - no transaction is active"), so
        # each use takes its turn. A file or server gives each thread its own connection.
        self._turn: AbstractContextManager[Any] = (
            threading.Lock() if isinstance(engine.pool, StaticPool) else nullcontext()
        )
        metadata.create_all(engine)

    @classmethod
    def open(cls, url: str | None) -> IdentityStore:
        return cls(identity_engine(url))

    def pseudonym_for(self, subject: str, now: datetime | None = None) -> str:
        """The subject's pseudonym, made on first use; each use renews its retention."""
        now = now or datetime.now(UTC)
        try:
            return self._pseudonym_for(subject, now)
        except IntegrityError:
            # A concurrent first use (another request, another gateway) inserted it first.
            return self._pseudonym_for(subject, now)

    def _pseudonym_for(self, subject: str, now: datetime) -> str:
        with self._turn, self.engine.begin() as conn:
            found = conn.execute(
                select(identities.c.pseudonym).where(identities.c.subject == subject)
            ).scalar()
            if found is not None:
                conn.execute(
                    update(identities).where(identities.c.pseudonym == found).values(last_seen=now)
                )
                return str(found)
            pseudonym = new_pseudonym()
            conn.execute(
                identities.insert().values(
                    pseudonym=pseudonym, subject=subject, first_seen=now, last_seen=now
                )
            )
            return pseudonym

    def known_pseudonym(self, subject: str) -> str | None:
        with self._turn, self.engine.connect() as conn:
            found = conn.execute(
                select(identities.c.pseudonym).where(identities.c.subject == subject)
            ).scalar()
        return None if found is None else str(found)

    def identities_of(self, pseudonyms: set[str]) -> dict[str, str]:
        if not pseudonyms:
            return {}
        with self._turn, self.engine.connect() as conn:
            rows = conn.execute(
                select(identities.c.pseudonym, identities.c.subject).where(
                    identities.c.pseudonym.in_(sorted(pseudonyms))
                )
            )
            return {r.pseudonym: r.subject for r in rows}

    def forget(self, pseudonym: str) -> None:
        """Delete the mapping: from now on the pseudonym resolves to 'erased person'."""
        with self._turn, self.engine.begin() as conn:
            conn.execute(delete(identities).where(identities.c.pseudonym == pseudonym))

    def expired(self, retention: timedelta, now: datetime | None = None) -> list[Erased]:
        """Mappings not used for longer than the retention period (to be erased)."""
        cutoff = (now or datetime.now(UTC)) - retention
        with self._turn, self.engine.connect() as conn:
            rows = conn.execute(
                select(identities.c.pseudonym, identities.c.subject, identities.c.last_seen)
            ).all()
        # Compared in Python: SQLite hands back naive datetimes.
        return [
            Erased(r.pseudonym, r.subject)
            for r in rows
            if (r.last_seen if r.last_seen.tzinfo else r.last_seen.replace(tzinfo=UTC)) < cutoff
        ]
