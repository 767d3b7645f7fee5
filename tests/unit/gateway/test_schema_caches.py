"""The schema's document cache hits across requests, stays bounded in bytes, and the limits
still hold with a warm cache."""

from __future__ import annotations

from typing import Any

from graphql import parse

from gateway.schema.build import build_schema
from gateway.schema.context import Context
from gateway.schema.guard import DocumentCache
from gateway.settings import GatewaySettings


def context(settings: GatewaySettings) -> Context:
    return Context(read=None, settings=settings, commands=None, live=None)  # type: ignore[arg-type]


async def run(settings: GatewaySettings, schema: Any, query: str) -> Any:
    return await schema.execute(query, context_value=context(settings))


async def test_the_depth_limit_still_refuses_with_a_warm_cache() -> None:
    settings = GatewaySettings(max_depth=3)
    schema = build_schema(settings)
    deep = "{ programmes { tenders { contracts { tender { title } } } } }"
    for _ in range(2):
        result = await run(settings, schema, deep)
        assert result.errors is not None
        assert "exceeds maximum operation depth of 3" in result.errors[0].message


async def test_a_repeated_query_is_answered_alike() -> None:
    settings = GatewaySettings()
    schema = build_schema(settings)
    for _ in range(2):
        result = await run(settings, schema, "query Twice { __typename }")
        assert result.errors is None
        assert result.data == {"__typename": "Query"}


def test_the_document_cache_is_bounded_by_the_bytes_it_keeps() -> None:
    cache = DocumentCache(max_bytes=64 * 1000)
    document = parse("{ __typename }")
    for i in range(500):
        cache.put(f"query Q{i} {{ __typename }}" + " " * 900, document, [])
    assert cache.bytes <= 64 * 1000
    assert cache.get("query Q499 { __typename }" + " " * 900) is not None
    assert cache.get("query Q0 { __typename }" + " " * 900) is None
    cache.put("x" * 2000, document, [])  # too large to keep at all
    assert cache.get("x" * 2000) is None


async def test_a_kept_document_is_measured_again_when_its_variables_widen_a_list() -> None:
    # The cost walk of a kept document is remembered by the widths its variables give; a
    # page that passed small must still be refused when a later request asks for it wide.
    settings = GatewaySettings(anonymous_max_cost=300)
    schema = build_schema(settings)
    query = "query Wide($n: Int) { tenders(first: $n) { nodes { a: title b: title c: title } } }"

    async def cost_error(n: int | None) -> list[str]:
        result = await schema.execute(
            query, variable_values={"n": n}, context_value=context(settings)
        )
        return [e.message for e in result.errors or [] if "cost exceeds" in e.message]

    assert await cost_error(2) == []
    assert await cost_error(2) == []  # the remembered walk
    assert await cost_error(100) != []  # wider: walked again, refused
    assert await cost_error(None) != []  # no `first`: the page cap
    assert await cost_error(3) == []
