"""The execution context that reads plain attributes directly answers exactly as graphql-core
does: values, enums, lists, nulls, __typename, aliases, fragments, skip/include, and the errors
of a value the schema refuses (a null in a non-null field, an unserialisable scalar)."""

from __future__ import annotations

from enum import Enum
from typing import Any

import pytest
import strawberry

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
class Query:
    @strawberry.field
    def items(self) -> list[Item]:
        return ITEMS

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
