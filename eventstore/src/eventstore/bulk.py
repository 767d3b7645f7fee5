"""Many rows of one table straight to the driver: plain tuples, one `executemany` each.

A rebuild writes hundreds of thousands of row versions. Passed as dicts through
SQLAlchemy, every row is looked up column by column and every value processed one call at
a time; here a table's statements are built once per dialect, the rows travel as tuples in
the table's column order, and each column that needs a bind processor (JSON, dates,
numbers on SQLite) is converted a whole column at a time. The values stored are the same
as SQLAlchemy's own (its processors, looked up once); a None stays SQL NULL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

from sqlalchemy import JSON, Boolean, Connection, Date, Dialect, Numeric, Table
from sqlalchemy.types import TypeDecorator, TypeEngine

from eventstore.timeline import FOREVER

Processor = Callable[[Any], Any]
ColumnProcessor = Callable[[Sequence[Any]], tuple[Any, ...]]


class Statement(NamedTuple):
    """One driver statement and its rows of parameters, ready to run."""

    sql: str
    params: list[tuple[Any, ...]]


def execute(conn: Connection, statements: Iterable[Statement]) -> None:
    """Run each statement that has parameters, in order (`executemany`)."""
    for sql, params in statements:
        if params:
            conn.exec_driver_sql(sql, params)


class TablePlan:
    """A table's INSERT, and the UPDATE/DELETE of one open version by key, for one dialect."""

    def __init__(self, dialect: Dialect, table: Table, raw: Iterable[str] = ()) -> None:
        """`raw`: columns whose values the caller hands over already in the driver's form."""
        quote = dialect.identifier_preparer.quote
        marker = "?" if dialect.paramstyle == "qmark" else "%s"
        self.columns = [c.name for c in table.c]
        name = dialect.identifier_preparer.format_table(table)
        self.insert_sql = (
            f"INSERT INTO {name} ({', '.join(quote(c) for c in self.columns)})"
            f" VALUES ({', '.join(marker for _ in self.columns)})"
        )
        skip = set(raw)
        self.processors: list[tuple[int, ColumnProcessor]] = []
        for i, column in enumerate(table.c):
            found = column.type._cached_bind_processor(dialect)
            if found is not None and column.name not in skip:
                proc: Processor = found
                if isinstance(column.type, JSON) and dialect.name == "sqlite":
                    proc = _lists_of_text_once(found)
                if _immutable_values(column.type):
                    self.processors.append((i, _memoised(proc)))
                else:
                    self.processors.append((i, _each(proc)))
        key = table.info.get("versioned_key")
        if key is not None:
            # The open version of a row: its key, its valid_from, known until further notice.
            where = " AND ".join(
                [*(f"{quote(k)} = {marker}" for k in key), f"{quote('valid_from')} = {marker}"]
            )
            where += f" AND {quote('known_to')} = {FOREVER}"
            self.close_sql = f"UPDATE {name} SET {quote('known_to')} = {marker} WHERE {where}"
            self.delete_sql = f"DELETE FROM {name} WHERE {where}"
            self.key_processors = [
                (i, proc)
                for i, k in enumerate(key)
                if (proc := table.c[k].type._cached_bind_processor(dialect)) is not None
            ]

    def encoded(self, rows: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
        """The rows with every processed column converted (column by column)."""
        if not self.processors:
            return [tuple(r) for r in rows]
        columns = list(zip(*rows, strict=True))
        for i, process in self.processors:
            columns[i] = process(columns[i])
        return list(zip(*columns, strict=True))

    def insert(self, conn: Connection, rows: Sequence[Sequence[Any]]) -> None:
        execute(conn, [self.inserting(rows)])

    def close(self, conn: Connection, params: list[tuple[Any, ...]]) -> None:
        """Close open versions: (known_to, *key, valid_from) each."""
        execute(conn, [self.closing(params)])

    def delete(self, conn: Connection, params: list[tuple[Any, ...]]) -> None:
        """Remove open versions: (*key, valid_from) each."""
        execute(conn, [self.deleting(params)])

    # The same statements with their parameters in the driver's form, made ahead (before a
    # transaction: `eventstore.projection.BatchProjection.prepare`) and run by `execute`.
    def inserting(self, rows: Sequence[Sequence[Any]]) -> Statement:
        return Statement(self.insert_sql, self.encoded(rows) if rows else [])

    def closing(self, params: list[tuple[Any, ...]]) -> Statement:
        return Statement(self.close_sql, self._keys(params, 1))

    def deleting(self, params: list[tuple[Any, ...]]) -> Statement:
        return Statement(self.delete_sql, self._keys(params, 0))

    def _keys(self, params: list[tuple[Any, ...]], first: int) -> list[tuple[Any, ...]]:
        if not self.key_processors:
            return params
        out = []
        for p in params:
            values = list(p)
            for i, proc in self.key_processors:
                if values[first + i] is not None:
                    values[first + i] = proc(values[first + i])
            out.append(tuple(values))
        return out


# Dates, flags and amounts repeat across the versions of a rebuild (a few thousand distinct
# days among hundreds of thousands of row versions): each distinct value of such a column is
# converted once, and a column is looked up in C (`map` over the memo). Not instants: two
# equal aware datetimes in different zones may be stored as different texts.
_IMMUTABLE = (Date, Boolean, Numeric)
_MEMO_MAX = 100_000


def _immutable_values(kind: TypeEngine[Any]) -> bool:
    """Values of this type are hashable and equal values convert alike (dates, flags,
    amounts); a TypeDecorator counts by what it stores as."""
    if isinstance(kind, TypeDecorator):
        kind = kind.impl_instance
    return isinstance(kind, _IMMUTABLE)


def _each(proc: Processor) -> ColumnProcessor:
    def column(values: Sequence[Any]) -> tuple[Any, ...]:
        return tuple([None if v is None else proc(v) for v in values])

    return column


def _memoised(proc: Processor) -> ColumnProcessor:
    """A column's values converted by `proc`, each distinct value once (None stays None)."""
    memo: dict[Any, Any] = {None: None}
    get = memo.__getitem__
    each = _each(proc)

    def column(values: Sequence[Any]) -> tuple[Any, ...]:
        try:
            try:
                return tuple(map(get, values))
            except KeyError:
                if len(memo) > _MEMO_MAX:
                    memo.clear()
                    memo[None] = None
                for value in set(values).difference(memo):
                    memo[value] = proc(value)
                return tuple(map(get, values))
        except TypeError:  # an unhashable value (a signalling NaN): one at a time
            return each(values)

    return column


def _lists_of_text_once(proc: Processor) -> Processor:
    """A JSON column's processor that converts each list of strings once (lot and
    supplier ids repeat across thousands of row versions); anything else as before. On
    SQLite only, where the converted value is the JSON text (an immutable str)."""
    seen: dict[tuple[str, ...], Any] = {}

    def process(value: Any) -> Any:
        if type(value) is not list or not all(type(v) is str for v in value):
            return proc(value)
        key = tuple(value)
        found = seen.get(key)
        if found is None:
            found = proc(value)
            if len(seen) < 100_000:
                seen[key] = found
        return found

    return process


_PLANS: dict[tuple[str, Table, frozenset[str]], TablePlan] = {}


def plan(dialect: Dialect, table: Table, raw: Iterable[str] = ()) -> TablePlan:
    """The table's plan for this dialect, built once."""
    key = (dialect.name, table, frozenset(raw))
    found = _PLANS.get(key)
    if found is None:
        found = _PLANS[key] = TablePlan(dialect, table, raw)
    return found
