"""Keyset-cursor connections: stable under inserts, `totalCount`, and a capped `first`."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from json.encoder import encode_basestring_ascii as encode_text  # json.dumps's, for text
from typing import Any, Generic, TypeVar

import strawberry
from sqlalchemy import (
    Date,
    DateTime,
    Integer,
    Select,
    TypeDecorator,
    and_,
    bindparam,
    func,
    or_,
    select,
)
from sqlalchemy.sql import ColumnElement, FromClause

from contracts_schema.errors import shown
from gateway.schema.context import Context, Info
from gateway.schema.errors import InvalidArgument

T = TypeVar("T")


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    total_count: int

    @strawberry.field
    def nodes(self) -> list[T]:
        return [edge.node for edge in self.edges]


Order = Sequence[tuple[ColumnElement[Any], bool]]  # (column, descending); unique as a whole


def _encode(values: list[Any]) -> str:
    # json.dumps of the list, written out: this runs once per edge of every page.
    parts = []
    for v in values:
        if isinstance(v, date):
            parts.append(encode_text(v.isoformat()))
        elif isinstance(v, str):
            parts.append(encode_text(v))
        elif type(v) is int:
            parts.append(int.__repr__(v))
        else:
            parts.append(json.dumps(v))
    text = "[" + ", ".join(parts) + "]"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(cursor: str, order: Order) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(raw, list) or len(raw) != len(order):
            raise ValueError("wrong shape")
        values: list[Any] = []
        for value, (column, _) in zip(raw, order, strict=True):
            kind = column.type
            if isinstance(kind, DateTime | TypeDecorator):
                values.append(datetime.fromisoformat(value))
            elif isinstance(kind, Date):
                values.append(date.fromisoformat(value))
            elif isinstance(kind, Integer):
                values.append(int(value))
            else:
                values.append(str(value))
        return values
    except (ValueError, TypeError) as exc:
        raise InvalidArgument(f"`after` is not a cursor of this list: {shown(cursor)}") from exc


def _after(order: Order) -> ColumnElement[bool]:
    # (a, b) > (x, y) expanded, so that each column may sort in its own direction; the
    # cursor's values are the parameters AFTER_0, AFTER_1, ...
    values: list[Any] = [bindparam(f"{AFTER}{i}") for i in range(len(order))]
    clauses = []
    for i, (column, descending) in enumerate(order):
        equal = [c == v for (c, _), v in zip(order[:i], values[:i], strict=True)]
        beyond = column < values[i] if descending else column > values[i]
        clauses.append(and_(*equal, beyond))
    return or_(*clauses)


AFTER, LIMIT = "page_after_", "page_limit"  # the page's own parameters


async def page(
    info: Info,
    query: Select[Any],
    order: Order,
    convert: Callable[[Any], T],
    first: int | None,
    after: str | None,
    columns: tuple[FromClause, Sequence[str]] | None = None,
    parameters: dict[str, Any] | None = None,
    counted: tuple[Any, Mapping[str, Any]] | None = None,
) -> Connection[T]:
    """A page of `query` as a Connection of `convert`ed rows (see `page_rows`)."""
    total, rows, cursors, more = await page_rows(
        info.context, query, order, first, after, columns, parameters, "every", counted=counted
    )
    edges = [Edge(cursor=cursor, node=convert(r)) for cursor, r in zip(cursors, rows, strict=True)]
    return Connection(
        edges=edges,
        page_info=PageInfo(has_next_page=more, end_cursor=edges[-1].cursor if edges else None),
        total_count=total,
    )


async def page_rows(
    context: Context,
    query: Select[Any],
    order: Order,
    first: int | None,
    after: str | None,
    columns: tuple[FromClause, Sequence[str]] | None = None,
    parameters: dict[str, Any] | None = None,
    cursors: str = "every",
    fill: bool = True,
    counted: tuple[Any, Mapping[str, Any]] | None = None,
) -> tuple[int, Sequence[Any], list[str], bool]:
    """(totalCount, the page's rows, their cursors, hasNextPage). `cursors`: "every" row's,
    only the "last" row's (a page whose edges are not asked for their cursors), or "none".
    `fill`: narrowed rows hold the columns not read as None (else only those read).

    `columns`: the query selects all of a table or view; only these of its columns are
    read (selection.py) and `convert` sees the others as None. The order's columns (the
    cursor's) are read always.

    `parameters`: the values of the query's bound parameters when the query is one kept by
    shape (`ReadModels.statement`); the page's statements are then kept too. Without them
    the query is taken as built for this request alone.

    `counted`: a statement (and its parameters) giving the query's count from stored
    counts, asked instead of counting the rows (asof11: the event log at a past horizon);
    where it answers NULL (the stored counts not in step with the rows) the rows are
    counted, in the same statement."""
    cap = context.settings.max_page_size
    size = cap if first is None else first
    if size < 0 or size > cap:
        raise InvalidArgument(f"`first` must be between 0 and {cap}; got {first}")
    read = context.read
    keys: list[str] = [str(getattr(c, "key", None) or getattr(c, "name", "")) for c, _ in order]
    given = dict(parameters or {})
    if after is not None:
        given.update((f"{AFTER}{i}", v) for i, v in enumerate(_decode(after, order)))
    given[LIMIT] = size + 1

    def build() -> tuple[Select[Any], Select[Any], dict[str, None]]:
        narrowed, absent = query, {}
        if columns is not None:
            source, names = columns
            wanted = {*names, *keys}
            every = source.c  # iterating it gives columns: their names apart
            absent = dict.fromkeys((k for k in every.keys() if k not in wanted), None)  # noqa: SIM118
            narrowed = query.with_only_columns(*(every[k] for k in sorted(wanted)))
        count = select(func.count()).select_from(narrowed.order_by(None).subquery())
        if counted is not None:  # the stored count, or the rows counted where it is NULL
            count = select(func.coalesce(counted[0].scalar_subquery(), count.scalar_subquery()))
        if after is not None:
            narrowed = narrowed.where(_after(order))
        narrowed = narrowed.order_by(*[c.desc() if d else c.asc() for c, d in order])
        return count, narrowed.limit(bindparam(LIMIT, type_=Integer)), absent

    if parameters is None:
        count, rows_query, absent = build()
    else:
        shape = (
            "page",
            query,
            *(part for c, d in order for part in (c, d)),
            None if columns is None else columns[0],
            None if columns is None else tuple(columns[1]),
            after is not None,
            None if counted is None else counted[0],
        )
        count, rows_query, absent = read.statement(shape, build)
    # Asked together: one round trip (and one snapshot) for the count and the page.
    counting = read.scalar(count, given if counted is None else {**given, **counted[1]})
    total, rows = await asyncio.gather(counting, read.rows(rows_query, given))
    whole = absent and fill  # the columns not read, as None (for a whole-row `convert`)
    found: Sequence[Any] = [{**absent, **r} for r in rows[:size]] if whole else rows[:size]
    chosen = found if cursors == "every" else found[-1:] if cursors == "last" else ()
    encoded = [_encode([r[k] for k in keys]) for r in chosen]
    return int(total or 0), found, encoded, len(rows) > size
