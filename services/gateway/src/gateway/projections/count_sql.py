"""The driver statements that keep stored counts: one row per key, a batch's numbers added
to it (`adding`), a key's latest value kept (`replacing`), rows only ever added
(`inserting`). Shared by the event log's counts (`event_counts`) and the status corners
(`status_counts`), which had each built their own near-copy (asof13).

A statement takes the table's columns in their declared order and is built once per
(dialect, table, form): the bulk path runs it with `executemany` every batch."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Table
from sqlalchemy.engine import Dialect

_STATEMENTS: dict[tuple[str, str, Table], str] = {}


def adding(dialect: Dialect, table: Table, counted: str = "n") -> str:
    """INSERT a row; on a key already stored, its `counted` column is added to the stored
    one (ON CONFLICT ... DO UPDATE: SQLite 3.24+ and PostgreSQL alike)."""

    def build(name: str, keys: str) -> str:
        return (
            f" ON CONFLICT ({keys}) DO UPDATE SET {counted} = {name}.{counted} + excluded.{counted}"
        )

    return _statement(dialect, table, f"adding {counted}", build)


def replacing(dialect: Dialect, table: Table) -> str:
    """INSERT a row; on a key already stored, its other columns take the new values."""
    quote = dialect.identifier_preparer.quote
    values = [c.name for c in table.c if not c.primary_key]

    def build(_name: str, keys: str) -> str:
        kept = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in values)
        return f" ON CONFLICT ({keys}) DO UPDATE SET {kept}"

    return _statement(dialect, table, "replacing", build)


def floor_div(expression: str, divisor: int) -> str:
    """SQL of an integer expression divided by a positive `divisor`, rounded down as Python's
    `//` (SQLite's and PostgreSQL's integer division truncate toward zero: before 1970 a
    week would be off by one)."""
    e, d = f"({expression})", int(divisor)
    return f"(({e} - ((({e} % {d}) + {d}) % {d})) / {d})"


def inserting(dialect: Dialect, table: Table) -> str:
    """INSERT a row (the key is new by construction)."""
    return _statement(dialect, table, "inserting", lambda _name, _keys: "")


def _statement(
    dialect: Dialect, table: Table, form: str, conflict: Callable[[str, str], str]
) -> str:
    key = (dialect.name, form, table)
    found = _STATEMENTS.get(key)
    if found is None:
        quote = dialect.identifier_preparer.quote
        m = "?" if dialect.paramstyle == "qmark" else "%s"
        name = dialect.identifier_preparer.format_table(table)
        columns = ", ".join(quote(c.name) for c in table.c)
        keys = ", ".join(quote(c.name) for c in table.primary_key.columns)
        found = _STATEMENTS[key] = (
            f"INSERT INTO {name} ({columns}) VALUES ({', '.join(m for _ in table.c)})"
            + conflict(name, keys)
        )
    return found
