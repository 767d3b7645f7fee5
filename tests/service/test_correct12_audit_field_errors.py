"""The audit's GraphQL fields (history, entitiesAsOf, ocds) refuse bad input with the code
every other root's refusal carries (`extensions.code` INVALID_ARGUMENT), so a client can tell
its own mistake from ours. Before: `history(aggregate: "nope")` and the others answered the
message with no `extensions` at all, unlike `tenders(first: -1)`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from eventstore.memory import InMemoryEventStore
from gateway.app import build_app
from gateway.history.sources import audit_sources
from tests.integration.gateway.harness import Gateway, start_memory_gateway

CASES = [
    ('{ history(aggregate: "nope") { __typename } }', "cannot read aggregate 'nope'"),
    ('{ entitiesAsOf(aggregateType: "nope") { aggregateId } }', "unknown aggregate type"),
    ('{ ocds(tenderId: "nope") }', "no tender or contract 'nope'"),
]


@pytest.fixture
async def gateway(store: InMemoryEventStore, tmp_path: Path) -> AsyncIterator[Gateway]:
    """The in-memory gateway with the audit's fields wired, as `bootstrap` serves them."""
    g = await start_memory_gateway(store, f"sqlite:///{tmp_path / 'rm.db'}")
    assert g.read is not None
    assert g.client is not None
    await g.client.aclose()
    app = build_app(g.read, g.settings, audit=audit_sources(store, g.engine))  # type: ignore[arg-type]
    g.client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
    )
    try:
        yield g
    finally:
        await g.stop()


@pytest.mark.parametrize(("query", "said"), CASES)
async def test_an_audit_field_refuses_bad_input_with_invalid_argument(
    gateway: Gateway, query: str, said: str
) -> None:
    body = await gateway.query(query, token=gateway.token("auditor"))
    [error] = body["errors"]
    assert said in error["message"], error
    assert error.get("extensions", {}).get("code") == "INVALID_ARGUMENT", error
    # The same code as the gateway's own roots give for a bad argument.
    other = await gateway.query("{ tenders(first: -1) { totalCount } }")
    assert other["errors"][0]["extensions"]["code"] == "INVALID_ARGUMENT"
