"""The execution context that reads plain attributes directly answers exactly as graphql-core
does: values, enums, lists, nulls, __typename, aliases, fragments, skip/include, and the errors
of a value the schema refuses (a null in a non-null field, an unserialisable scalar)."""

from __future__ import annotations

from enum import Enum
from typing import Any, ClassVar

import pytest
import strawberry
from graphql import GraphQLResolveInfo
from strawberry.extensions import SchemaExtension

from gateway.schema.execution import PlainFieldsExecutionContext


@strawberry.enum
class Colour(Enum):
    RED = "red"
    DARK_BLUE = "dark_blue"


@strawberry.type
class Item:
    name: str
    colour: Colour
    colours: list[Colour]
    tags: list[str | None]
    count: int | None
    checked: bool

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()


def item(**changes: Any) -> Item:
    values: dict[str, Any] = {
        "name": "a",
        "colour": Colour.DARK_BLUE,
        "colours": [Colour.RED, Colour.DARK_BLUE],
        "tags": ["x", None],
        "count": None,
        "checked": True,
    }
    return Item(**{**values, **changes})


def without_count() -> Item:
    """A row whose attribute is missing: the default resolver's error, not a silent null."""
    row = item()
    del row.count
    return row


ITEMS: list[Item] = []


@strawberry.type
class Edge:
    """A connection's edge: plain attributes holding objects (`node`, `maybe`)."""

    cursor: str
    node: Item
    maybe: Item | None


def edge(node: Any, maybe: Any = None, cursor: Any = "c") -> Edge:
    return Edge(cursor=cursor, node=node, maybe=maybe)


EDGES: list[Edge] = []


@strawberry.type
class Page:
    edges: list[Edge]
    top: Edge | None


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item]:
        return ITEMS

    @strawberry.field
    def edges(self) -> list[Edge]:
        return EDGES

    @strawberry.field
    def page(self) -> Page:
        return Page(edges=EDGES, top=EDGES[0] if EDGES else None)

    @strawberry.field
    def first(self) -> Item | None:
        return ITEMS[0] if ITEMS else None


QUERIES = [
    "{ items { name colour colours tags count checked } }",
    "{ items { __typename n: name c: colour name } first { name shout colour } }",
    "{ items { ...F } } fragment F on Item { name ... on Item { colours } }",
    "query Q($s: Boolean!) { items { name @skip(if: $s) colour @include(if: $s) } }",
    "{ items { name shout } }",
]


@pytest.mark.parametrize(
    "rows",
    [
        [item(), item(name="b", count=3, checked=False)],
        [],
        [item(), item(name=None)],  # a null in a non-null field: an error, as graphql-core
        [item(colour="purple")],  # not a member: an error, as graphql-core
        [item(count="many")],  # an Int that is not one
        [item(colours=[Colour.RED, None])],  # a null item in a list of non-null items
        [item(tags="xy")],  # a string where a list belongs
        [item(), without_count()],
    ],
)
@pytest.mark.parametrize("query", QUERIES)
async def test_answers_equal_graphql_core_s(rows: list[Item], query: str) -> None:
    ITEMS[:] = rows
    plain = strawberry.Schema(Query, execution_context_class=PlainFieldsExecutionContext)
    reference = strawberry.Schema(Query)
    variables = {"s": True}
    ours = await plain.execute(query, variable_values=variables)
    theirs = await reference.execute(query, variable_values=variables)
    assert ours.data == theirs.data
    assert [e.formatted for e in ours.errors or []] == [e.formatted for e in theirs.errors or []]


NESTED_QUERIES = [
    "{ edges { cursor node { name colour tags } maybe { count } } }",
    "{ page { top { node { name } } edges { node { __typename name } maybe { colours } } } }",
    "{ edges { node { name shout } } }",  # a resolver inside: graphql-core completes the list
    "{ edges { ... on Edge { node { ...F } } } } fragment F on Item { name checked }",
    "query Q($s: Boolean!) { edges { node @include(if: $s) { name } maybe { name } } }",
    "{ edges { node { n: name } node { colour } } }",  # one key selected twice: merged
]


@pytest.mark.parametrize(
    "edges",
    [
        [edge(item()), edge(item(name="b"), item(count=2), "d")],
        [],
        [edge(None)],  # a null in a non-null object field: an error, as graphql-core
        [edge(item(name=None))],  # a null deeper down
        [edge(item(), "not an item")],  # a value of another type
        [edge(item(), item(colour="purple"))],
        [edge(item(), cursor=7)],  # an Int where a String belongs: String coerces it
        [edge(without_count(), without_count())],
    ],
)
@pytest.mark.parametrize("query", NESTED_QUERIES)
async def test_nested_objects_answer_as_graphql_core(edges: list[Edge], query: str) -> None:
    EDGES[:] = edges
    plain = strawberry.Schema(Query, execution_context_class=PlainFieldsExecutionContext)
    reference = strawberry.Schema(Query)
    variables = {"s": True}
    ours = await plain.execute(query, variable_values=variables)
    theirs = await reference.execute(query, variable_values=variables)
    assert ours.data == theirs.data
    assert [e.formatted for e in ours.errors or []] == [e.formatted for e in theirs.errors or []]


class CountingResolves(SchemaExtension):
    """An extension that sees each field resolved (as a permission or tracing one would)."""

    seen: ClassVar[list[str]] = []

    def resolve(
        self, _next: Any, root: Any, info: GraphQLResolveInfo, *args: Any, **kwargs: Any
    ) -> Any:
        CountingResolves.seen.append(info.field_name)
        return _next(root, info, *args, **kwargs)


async def test_an_extension_that_resolves_fields_sees_every_field_of_every_row() -> None:
    ITEMS[:] = [item(), item(name="b")]
    CountingResolves.seen.clear()
    schema = strawberry.Schema(
        Query,
        execution_context_class=PlainFieldsExecutionContext,
        extensions=[CountingResolves],
    )
    result = await schema.execute("{ items { name checked } }")
    assert result.errors is None
    assert result.data == {
        "items": [{"name": "a", "checked": True}, {"name": "b", "checked": True}]
    }
    assert sorted(CountingResolves.seen) == ["checked", "checked", "items", "name", "name"]
