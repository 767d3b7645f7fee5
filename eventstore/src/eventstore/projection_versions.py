"""Which version of each projection serves reads, and the catch-up check for a takeover.

A new projection version builds its own tables beside the live one; when it has caught up
with every stream it reads, it becomes live (one row per projection name) and readers move.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, Connection, DateTime, Engine, Integer, String, Table, select

from eventstore.projection import bookkeeping, upsert

versions = Table(
    "projection_versions",
    bookkeeping,
    Column("name", String(120), primary_key=True),
    Column("live_version", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


def live_version(engine: Engine, name: str) -> int | None:
    with engine.connect() as conn:
        value = conn.execute(
            select(versions.c.live_version).where(versions.c.name == name)
        ).scalar_one_or_none()
    return int(value) if value is not None else None


def claim_if_first(engine: Engine, name: str, version: int) -> int:
    """The first version ever built is live at once (there is nothing older to serve)."""
    with engine.begin() as conn:
        current = conn.execute(
            select(versions.c.live_version).where(versions.c.name == name)
        ).scalar_one_or_none()
        if current is None:
            _set(conn, name, version)
            return version
        return int(current)


def take_over(engine: Engine, name: str, version: int) -> None:
    with engine.begin() as conn:
        _set(conn, name, version)


def _set(conn: Connection, name: str, version: int) -> None:
    upsert(
        conn,
        versions,
        {"name": name, "live_version": version, "updated_at": datetime.now(UTC)},
        ["name"],
    )
