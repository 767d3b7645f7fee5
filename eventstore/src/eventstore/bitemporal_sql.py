"""Bitemporal tables in SQL: row versions with a valid and a known interval.

Each versioned table holds a read model's own columns plus `valid_from`, `valid_to`,
`known_from`, `known_to` (microseconds since the epoch, UTC, half-open `[from, to)`; the
open end is `FOREVER`). "As of D, as known at K" is a predicate on both intervals, and the
present is the same predicate at (now, now): no query ever replays history.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import BigInteger, Column, ColumnElement, Index, MetaData, Table, and_
from sqlalchemy.sql.expression import FromClause

from eventstore.rebuild_indexes import WRITE_PATH
from eventstore.timeline import FOREVER

INTERVAL_COLUMNS = ("valid_from", "valid_to", "known_from", "known_to")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def micros(moment: datetime) -> int:
    """An aware datetime as microseconds since the epoch (UTC)."""
    if moment.tzinfo is None:
        raise ValueError(f"a bitemporal instant needs a timezone: {moment!r}")
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def instant(value: int) -> datetime | None:
    """Microseconds back to an aware datetime; the open end is None."""
    if value >= FOREVER:
        return None
    return datetime.fromtimestamp(value / 1_000_000, UTC)


def versioned_table(
    name: str, metadata: MetaData, *columns: Column[object], key: Sequence[str]
) -> Table:
    """A read-model table whose rows are versions; `key` names one row of the read model."""
    table = Table(
        name,
        metadata,
        *columns,
        Column("valid_from", BigInteger, nullable=False),
        Column("valid_to", BigInteger, nullable=False),
        Column("known_from", BigInteger, nullable=False),
        Column("known_to", BigInteger, nullable=False),
    )
    keys = [table.c[k] for k in key]
    # Closing an open version finds it by key and valid_from among the open ones (the write
    # path needs it: a rebuild keeps it, see eventstore.rebuild_indexes).
    Index(f"ix_{name}_key", *keys, table.c.known_to, table.c.valid_from, info={WRITE_PATH: True})
    # Lists at a horizon scan the versions known then and valid then.
    Index(f"ix_{name}_now", table.c.known_to, table.c.valid_to, table.c.valid_from)
    table.info["versioned_key"] = tuple(key)
    return table


def at(table: Table, valid: int, known: int) -> ColumnElement[bool]:
    """The versions of `table` valid at `valid` and known at `known` (µs)."""
    c = table.c
    return and_(
        c.valid_from <= valid, c.valid_to > valid, c.known_from <= known, c.known_to > known
    )


def view(table: Table, valid: int, known: int) -> FromClause:
    """The table as it stood at (valid, known): same name, same columns, one row per key."""
    return table.select().where(at(table, valid, known)).subquery(table.name)
