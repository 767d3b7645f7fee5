"""Keyset-cursor connections: stable under inserts, `totalCount`, and a capped `first`.

A cursor names the list it pages and carries a fingerprint of what that list's rows and their
order depend on, beside the key of its row: base64url of the JSON
`["<list>", "<fingerprint>", [<the order's values>]]`. The list is the root field's name; the
fingerprint is of its arguments other than `first`, `after`, `consistencyToken` and `orderBy`
(the filter, the expiring range, asOf/knownAt) and of the order's columns and directions
(`cursor_tag`). `after` is refused, naming itself, when it is not such a cursor, when it is
another list's (a `tenders` cursor given to `organisations` answered a page after that key in
the organisations' order: correct22), or when it was made for other arguments of the same list
(a cursor of tenders by planned day read as a key of tenders by title). Cursors of the form
before (the key's values alone) are refused asking the client to start again: a cursor is not
a stored contract, only a place in the list it came from (cursor20).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from enum import Enum
from json.encoder import encode_basestring_ascii as encode_text  # json.dumps's, for text
from typing import Any, Generic, TypeVar

import strawberry
from graphql.execution.values import VariableValues, get_argument_values
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


CURSOR = (
    " Give it as `after` to the list it came from, asked with the same arguments (`first`"
    " may change); another list's cursor, or one made with other arguments, is refused."
    " Opaque, and not kept across versions of the gateway."
)


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None = strawberry.field(description="The last edge's cursor." + CURSOR)


@strawberry.type
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="This edge's place in its list." + CURSOR)
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


Tag = tuple[str, str]  # (the list's field name, the fingerprint of what it was asked with)
UNTAGGED = frozenset({"first", "after", "consistencyToken", "orderBy"})  # (the order: by columns)


def _plain(value: Any) -> Any:
    """An argument's value as JSON, the same however it was written: what is not given (None,
    an empty list or input object) left out, an instant in UTC, an enum value by name."""
    if isinstance(value, Mapping):
        found = {}
        for key, item in value.items():
            plain = _plain(item)
            if plain is not None and plain != [] and plain != {}:
                found[str(key)] = plain
        return found
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo is not None else value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def cursor_tag(name: str, arguments: Mapping[str, Any], order: Sequence[tuple[str, bool]]) -> Tag:
    """The list `name` asked with `arguments` (its root field's, as graphql-core coerces
    them) in `order` ((column key, descending) of the cursor's values): the list's name and
    eight hex digits of a hash of the arguments that choose its rows and of the order."""
    chosen = {k: v for k, v in arguments.items() if k not in UNTAGGED}
    text = json.dumps([_plain(chosen), [[k, d] for k, d in order]], sort_keys=True, default=str)
    return name, hashlib.blake2b(text.encode(), digest_size=4).hexdigest()


def arguments(info: Info) -> dict[str, Any]:
    """The resolver's field's arguments as graphql-core coerced them (GraphQL names)."""
    raw = info._raw_info
    field = raw.parent_type.fields[raw.field_name]
    values: Any = raw.variable_values  # strawberry's executor gives the coerced dict alone
    if not isinstance(values, VariableValues):
        values = VariableValues({}, values)  # (get_argument_values reads `coerced` only)
    return get_argument_values(field, raw.field_nodes[0], values)


def _opening(tag: Tag) -> str:
    """The JSON text every cursor of the page begins with (a field name and hex digits:
    nothing to escape)."""
    return f'["{tag[0]}", "{tag[1]}", ['


def _encode(values: list[Any], opening: str) -> str:
    # json.dumps of [list, fingerprint, values], written out: this runs once per edge of
    # every page (`opening`, the first two, once per page).
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
    text = opening + ", ".join(parts) + "]]"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _refused(message: str) -> InvalidArgument:
    return InvalidArgument(message, field="after")


def encode_tagged(tag: Tag, values: list[Any]) -> str:
    """A cursor of `tag`'s list at the key `values` (for a list paged in Python, not by an
    order of columns: `lawFindings`)."""
    return _encode(values, _opening(tag))


def decode_tagged(cursor: str, tag: Tag, width: int) -> list[Any]:
    """The key values (as JSON gave them, `width` of them) of a cursor made for `tag`'s list
    with the same arguments; refused naming `after` otherwise, as every keyset list does."""
    key = _key(cursor, tag, width)
    if not isinstance(key, list) or len(key) != width or any(_nested(v) for v in key):
        raise _not_a_cursor(cursor, tag[0])
    return key


def _decode(cursor: str, order: Order, tag: Tag) -> list[Any]:
    key = _key(cursor, tag, len(order))
    try:
        return _values(key, order)
    except (ValueError, TypeError) as exc:
        raise _not_a_cursor(cursor, tag[0]) from exc


def _key(cursor: str, tag: Tag, width: int) -> Any:
    """The key part of a cursor of `tag`'s list, unchecked; refused naming `after` when the
    cursor is another list's, another arguments', of the earlier form, or not a cursor."""
    name, fingerprint = tag
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError) as exc:
        raise _not_a_cursor(cursor, name) from exc
    if isinstance(raw, list) and len(raw) == 3 and isinstance(raw[2], list):
        made, printed, key = raw
        if made != name:
            named = f"`{made}`" if isinstance(made, str) and made.isidentifier() else shown(made)
            raise _refused(
                f"`after` is a cursor of {named[:82]}, not of `{name}`: a cursor pages"
                f" only the list it came from (ask `{name}` without `after` for its first page)"
            )
        if printed != fingerprint:
            raise _refused(
                f"`after` was made for `{name}` asked with other arguments (filter, order or"
                " asOf/knownAt): a cursor pages on only with the arguments of the page that"
                " gave it (`first` may change); ask again without `after` for the first page"
            )
        return key
    if isinstance(raw, list) and len(raw) == width and all(not _nested(v) for v in raw):
        raise _refused(
            f"`after` is a cursor in the form an earlier version of the gateway gave, which"
            f" named no list: no longer taken (a cursor is a place in the list it came from,"
            f" not kept across versions); ask `{name}` again without `after` for its first page"
        )
    raise _not_a_cursor(cursor, name)


def _nested(value: Any) -> bool:
    return isinstance(value, list | dict)


def _not_a_cursor(cursor: str, name: str) -> InvalidArgument:
    return _refused(f"`after` is not a cursor of this list (`{name}`): {shown(cursor)}")


def _values(raw: Any, order: Order) -> list[Any]:
    """The key's values as the order's columns hold them; ValueError if they are not."""
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
    """A page of `query` as a Connection of `convert`ed rows (see `page_rows`); the list is
    the resolver's root field, asked with its arguments."""
    total, rows, cursors, more = await page_rows(
        info.context,
        query,
        order,
        first,
        after,
        columns,
        parameters,
        "every",
        counted=counted,
        listed=lambda: (info.field_name, arguments(info)),
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
    *,
    listed: Callable[[], tuple[str, Mapping[str, Any]]],
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
    counted, in the same statement.

    `listed`: the list's root field name and its arguments (GraphQL names, as graphql-core
    coerces them), asked only when a cursor is read or written: what the page's cursors are
    made for (`cursor_tag`)."""
    cap = context.settings.max_page_size
    size = cap if first is None else first
    if size < 0 or size > cap:
        raise InvalidArgument(f"`first` must be between 0 and {cap}; got {first}")
    read = context.read
    keys: list[str] = [str(getattr(c, "key", None) or getattr(c, "name", "")) for c, _ in order]
    given = dict(parameters or {})
    tag: Tag | None = None
    if after is not None:
        tag = cursor_tag(*listed(), [(k, d) for k, (_, d) in zip(keys, order, strict=True)])
        given.update((f"{AFTER}{i}", v) for i, v in enumerate(_decode(after, order, tag)))
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
    encoded: list[str] = []
    if chosen:
        if tag is None:
            tag = cursor_tag(*listed(), [(k, d) for k, (_, d) in zip(keys, order, strict=True)])
        opening = _opening(tag)
        encoded = [_encode([r[k] for k in keys], opening) for r in chosen]
    return int(total or 0), found, encoded, len(rows) > size
