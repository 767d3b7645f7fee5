"""The columns a selection reads depend on the attribute -> column mapping each caller gives:
two callers with different mappings for one type each get their own columns."""

from __future__ import annotations

import strawberry

from gateway.schema.selection import selected_columns

SEEN: dict[str, tuple[str, ...] | None] = {}


@strawberry.type
class Item:
    name: str
    size: int


@strawberry.type
class Query:
    @strawberry.field
    def first(self, info: strawberry.Info) -> Item:
        SEEN["first"] = selected_columns(info, Item, {"name": "first_name"}, ["id"])
        return Item(name="a", size=1)

    @strawberry.field
    def second(self, info: strawberry.Info) -> Item:
        SEEN["second"] = selected_columns(info, Item, {"name": "second_name"}, ["key"])
        return Item(name="b", size=2)


def test_each_mapping_gets_its_own_columns() -> None:
    schema = strawberry.Schema(query=Query)
    for _ in range(2):  # the second run is answered from the caches
        SEEN.clear()
        result = schema.execute_sync("{ first { name } second { name } }")
        assert result.errors is None
        assert SEEN == {"first": ("first_name", "id"), "second": ("key", "second_name")}
