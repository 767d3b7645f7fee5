"""The columns a list field's selection reads, so that its loader selects only those.

A row's columns each cost a conversion (dates, decimals, JSON) whether or not the query asks
for them: the framework query's participants and call-offs read 4 of their 13 and 15, the
expiring page 5 of 22. Only plain fields (an attribute read from a column) narrow the
selection; any other field selected (a resolver, the global id, an object) may read any
attribute, so the row is then read whole, as before. Directives are not looked at: a field
that @skip may leave out is read all the same.

The answer depends on the document alone (not on variables), so it is kept per field node of
the cached documents (bounded; a node is held while its answer is, so its id is not reused).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionNode,
)
from strawberry.types.base import StrawberryObjectDefinition

from gateway.schema.context import Info

KEPT = 4096  # answers kept (one per list field of each distinct query)
# (schema, type, attribute -> column items) -> GraphQL name -> column
_plain: dict[tuple[Any, ...], dict[str, str]] = {}
_answers: dict[tuple[Any, ...], tuple[list[FieldNode], tuple[str, ...] | None]] = {}


def _plain_columns(info: Info, kind: type[Any], columns: Mapping[str, str]) -> dict[str, str]:
    """GraphQL name -> column of the plain fields of `kind` whose attribute is a column
    (`columns`: attribute -> column)."""
    key = (id(info.schema), id(kind), *columns.items())  # the answer depends on the mapping too
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


def _fields(
    selections: Iterable[SelectionNode], fragments: Mapping[str, FragmentDefinitionNode]
) -> Iterator[FieldNode]:
    """The fields of a selection set, fragments expanded (each fragment once)."""
    todo, spread = list(selections), set()
    while todo:
        node = todo.pop()
        if isinstance(node, FieldNode):
            yield node
        elif isinstance(node, InlineFragmentNode):
            todo.extend(node.selection_set.selections)
        elif isinstance(node, FragmentSpreadNode) and node.name.value not in spread:
            spread.add(node.name.value)
            fragment = fragments.get(node.name.value)
            if fragment is not None:
                todo.extend(fragment.selection_set.selections)


def _add(
    plain: Mapping[str, str],
    node: FieldNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    wanted: set[str],
) -> bool:
    """Adds the columns of the plain fields `node` selects to `wanted`; False when one of
    the fields selected is not plain."""
    if node.selection_set is None:
        return False
    for field in _fields(node.selection_set.selections, fragments):
        name = field.name.value
        if name == "__typename":
            continue
        column = plain.get(name)
        if column is None or field.selection_set is not None:
            return False
        wanted.add(column)
    return True


Compute = Callable[[list[FieldNode], Mapping[str, FragmentDefinitionNode]], tuple[str, ...] | None]


def _answer(
    info: Info, kind: type[Any], nodes: bool, depends: tuple[Any, ...], compute: Compute
) -> tuple[str, ...] | None:
    """`compute`'s answer for this field, kept per query document; `depends`: what else it
    reads (the column mapping and the base columns)."""
    raw = info._raw_info
    field_nodes = list(raw.field_nodes)
    key = (id(info.schema), id(kind), nodes, depends, *(id(n) for n in field_nodes))
    known = _answers.get(key)
    if known is not None and all(a is b for a, b in zip(known[0], field_nodes, strict=True)):
        return known[1]
    answer = compute(field_nodes, raw.fragments)
    if len(_answers) >= KEPT:
        _answers.clear()
    _answers[key] = (field_nodes, answer)
    return answer


def selected_columns(
    info: Info,
    kind: type[Any],
    columns: Iterable[str] | Mapping[str, str],
    base: Iterable[str],
) -> tuple[str, ...] | None:
    """`base` (keys, what access rules and filters read) and the columns of the plain fields
    of `kind` the current field selects; None when a selected field may need any column.
    `columns`: the attributes read from the column of the same name, or attribute -> column."""
    named = columns if isinstance(columns, Mapping) else {c: c for c in columns}
    plain = _plain_columns(info, kind, named)
    base = tuple(base)

    def compute(
        field_nodes: list[FieldNode], fragments: Mapping[str, FragmentDefinitionNode]
    ) -> tuple[str, ...] | None:
        wanted = set(base)
        if not all(_add(plain, node, fragments, wanted) for node in field_nodes):
            return None
        return tuple(sorted(wanted))

    return _answer(info, kind, False, (*named.items(), base), compute)


def node_columns(
    info: Info, kind: type[Any], columns: Mapping[str, str], base: Iterable[str]
) -> tuple[str, ...] | None:
    """As `selected_columns`, for the nodes of a connection (`edges { node }`, `nodes`)."""
    plain = _plain_columns(info, kind, columns)
    base = tuple(base)

    def compute(
        field_nodes: list[FieldNode], fragments: Mapping[str, FragmentDefinitionNode]
    ) -> tuple[str, ...] | None:
        wanted = set(base)
        for node in field_nodes:
            if node.selection_set is None:
                continue
            for part in _fields(node.selection_set.selections, fragments):
                name = part.name.value
                if name == "nodes" and not _add(plain, part, fragments, wanted):
                    return None
                if name == "edges" and part.selection_set is not None:
                    for edge in _fields(part.selection_set.selections, fragments):
                        if edge.name.value == "node" and not _add(plain, edge, fragments, wanted):
                            return None
        return tuple(sorted(wanted))

    return _answer(info, kind, True, (*columns.items(), base), compute)
