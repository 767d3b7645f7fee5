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
