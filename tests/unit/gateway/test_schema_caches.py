"""The schema's parse and validation caches hit across requests, and the limits still hold."""

from __future__ import annotations

from strawberry.extensions.validation_cache import _get_validate_cache

from gateway.schema.build import build_schema
from gateway.settings import GatewaySettings


def test_a_repeated_query_is_validated_once() -> None:
    schema = build_schema(GatewaySettings(max_depth=3))
    cache = _get_validate_cache(512)
    query = "query Twice { __typename }"
    first = schema.execute_sync(query)
    before = cache.cache_info()
    second = schema.execute_sync(query)
    after = cache.cache_info()
    assert first.errors is None
    assert second.errors is None
    assert after.hits == before.hits + 1
    assert after.misses == before.misses


def test_the_depth_limit_still_refuses_with_a_warm_cache() -> None:
    schema = build_schema(GatewaySettings(max_depth=3))
    deep = "{ programmes { tenders { contracts { tender { title } } } } }"
    for _ in range(2):
        result = schema.execute_sync(deep)
        assert result.errors is not None
        assert "exceeds maximum operation depth of 3" in result.errors[0].message
