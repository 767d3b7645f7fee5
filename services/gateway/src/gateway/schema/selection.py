"""The columns a list field's selection reads, so that its loader selects only those.

A row's columns each cost a conversion (dates, decimals, JSON) whether or not the query asks
for them: the framework query's participants and call-offs read 4 of their 13 and 15. Only
plain fields (an attribute that is the column of the same name) narrow the selection; any
other field selected (a resolver, the global id) may read any attribute, so the row is then
read whole, as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

from gateway.schema.context import Info

_plain: dict[tuple[int, int], dict[str, str]] = {}  # (schema, type) -> GraphQL name -> column


def _plain_columns(info: Info, kind: type[Any], columns: Mapping[str, str]) -> dict[str, str]:
    """GraphQL name -> column of the plain fields of `kind` whose attribute is a column
    (`columns`: attribute -> column)."""
    key = (id(info.schema), id(kind))
    found = _plain.get(key)
    if found is None:
        definition: StrawberryObjectDefinition = kind.__strawberry_definition__
        names = info.schema.config.name_converter
        found = _plain[key] = {
            names.from_field(f): columns[f.python_name]
            for f in definition.fields
            if f.base_resolver is None and not f.extensions and f.python_name in columns
        }
    return found


def _flat(selections: Iterable[Selection]) -> Iterator[SelectedField]:
    todo = list(selections)
    while todo:
        node = todo.pop()
        if isinstance(node, FragmentSpread | InlineFragment):
            todo.extend(node.selections)
        else:
            assert isinstance(node, SelectedField)
            yield node


def _narrowed(plain: Mapping[str, str], selections: Iterable[Selection], wanted: set[str]) -> bool:
    """Adds the columns of the selected plain fields to `wanted`; False when a selected
    field is not plain."""
    for node in _flat(selections):
        if node.name == "__typename":
            continue
        column = plain.get(node.name)
        if column is None or node.selections:
            return False
        wanted.add(column)
    return True


def selected_columns(
    info: Info,
    kind: type[Any],
    columns: Iterable[str] | Mapping[str, str],
    base: Iterable[str],
) -> tuple[str, ...] | None:
    """`base` (keys, what access rules and filters read) and the columns of the plain fields
    of `kind` the current field selects; None when a selected field may need any column.
    `columns`: the attributes that are columns of the same name, or attribute -> column."""
    named = columns if isinstance(columns, Mapping) else {c: c for c in columns}
    plain = _plain_columns(info, kind, named)
    wanted = set(base)
    for field in info.selected_fields:
        if not _narrowed(plain, field.selections, wanted):
            return None
    return tuple(sorted(wanted))


def node_columns(
    info: Info, kind: type[Any], columns: Mapping[str, str], base: Iterable[str]
) -> tuple[str, ...] | None:
    """As `selected_columns`, for the nodes of a connection (`edges { node }`, `nodes`)."""
    plain = _plain_columns(info, kind, columns)
    wanted = set(base)
    for field in info.selected_fields:
        for part in _flat(field.selections):
            if part.name == "nodes" and not _narrowed(plain, part.selections, wanted):
                return None
            if part.name == "edges":
                for edge in _flat(part.selections):
                    if edge.name == "node" and not _narrowed(plain, edge.selections, wanted):
                        return None
    return tuple(sorted(wanted))
