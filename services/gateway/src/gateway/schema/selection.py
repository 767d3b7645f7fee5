"""The columns a list field's selection reads, so that its loader selects only those.

A row's columns each cost a conversion (dates, decimals, JSON) whether or not the query asks
for them: the framework query's participants and call-offs read 4 of their 13 and 15. Only
plain fields (an attribute that is the column of the same name) narrow the selection; any
other field selected (a resolver, the global id) may read any attribute, so the row is then
read whole, as before.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

from gateway.schema.context import Info

_plain: dict[tuple[int, int], dict[str, str]] = {}  # (schema, type) -> GraphQL name -> column


def _plain_columns(info: Info, kind: type[Any], columns: frozenset[str]) -> dict[str, str]:
    key = (id(info.schema), id(kind))
    found = _plain.get(key)
    if found is None:
        definition: StrawberryObjectDefinition = kind.__strawberry_definition__
        names = info.schema.config.name_converter
        found = _plain[key] = {
            names.from_field(f): f.python_name
            for f in definition.fields
            if f.base_resolver is None and not f.extensions and f.python_name in columns
        }
    return found


def selected_columns(
    info: Info, kind: type[Any], columns: Iterable[str], base: Iterable[str]
) -> tuple[str, ...] | None:
    """`base` (keys, what access rules and filters read) and the columns of the plain fields
    of `kind` the current field selects; None when a selected field may need any column."""
    plain = _plain_columns(info, kind, frozenset(columns))
    wanted = set(base)
    todo: list[Selection] = []
    for field in info.selected_fields:
        todo.extend(field.selections)
    while todo:
        node = todo.pop()
        if isinstance(node, FragmentSpread | InlineFragment):
            todo.extend(node.selections)
            continue
        assert isinstance(node, SelectedField)
        if node.name == "__typename":
            continue
        column = plain.get(node.name)
        if column is None or node.selections:
            return None
        wanted.add(column)
    return tuple(sorted(wanted))
