"""The first and last days the gateway accepts as `asOf` (and the earliest `knownAt`) are
answered, and the days beyond them refused with the range named, not turned into an internal
error: the end of 9999-12-31 once raised OverflowError inside the request ("Unexpected
error")."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from contracts_schema.subjects import CONTEXTS
from eventstore.clock import SystemClock
from eventstore.memory import InMemoryEventStore
from tests.integration.gateway.harness import Gateway, start_memory_gateway
from tests.integration.gateway.history import load_gt_mobile


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    store = InMemoryEventStore(SystemClock())
    for context in CONTEXTS.values():
        await store.ensure_stream(context)
    g = await start_memory_gateway(store, f"sqlite:///{tmp_path / 'rm.db'}")
    await g.settle(await load_gt_mobile(g))
    yield g
    await g.stop()


async def _ask(g: Gateway, horizon: str) -> dict[str, Any]:
    assert g.client is not None
    query = f'{{ tenders({horizon}) {{ totalCount }} tender(tenderId: "gt-mc1", {horizon}) {{ phase }} }}'
    response = await g.client.post("/graphql", json={"query": query})
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def test_the_last_day_is_the_present_and_the_first_is_empty(gateway: Gateway) -> None:
    present = await _ask(gateway, 'asOf: "5000-01-01"')
    assert "errors" not in present, present
    assert present["data"]["tender"] is not None
    last = await _ask(gateway, 'asOf: "9999-12-30"')
    assert "errors" not in last, last
    assert last["data"] == present["data"]  # nothing recorded ends between 5000 and 9999
    first = await _ask(gateway, 'asOf: "0001-01-02"')
    assert "errors" not in first, first
    assert first["data"] == {"tenders": {"totalCount": 0}, "tender": None}
    earliest = await _ask(gateway, 'knownAt: "0001-01-02T00:00:00Z"')
    assert "errors" not in earliest, earliest
    assert earliest["data"] == {"tenders": {"totalCount": 0}, "tender": None}


@pytest.mark.parametrize(
    "horizon",
    ['asOf: "9999-12-31"', 'asOf: "0001-01-01"', 'knownAt: "0001-01-01T00:00:00+01:00"'],
)
async def test_beyond_them_the_range_is_named(gateway: Gateway, horizon: str) -> None:
    body = await _ask(gateway, horizon)
    assert body["data"] is None
    assert all(
        "out of range: from 0001-01-02 to 9999-12-30" in e["message"] for e in body["errors"]
    )


@pytest.mark.parametrize(
    "query",
    [
        '{ expiringContracts(from: "2020-01-01", to: "2019-01-01") { totalCount } }',
        '{ contracts(filter: {expiring: {from: "2020-01-01", to: "2019-01-01"}}) { totalCount } }',
    ],
)
async def test_a_date_range_that_ends_before_it_starts_is_refused(
    gateway: Gateway, query: str
) -> None:
    """user8: it answered an empty page, as if no contract expired then."""
    assert gateway.client is not None
    for _ in range(2):  # the second time through the kept document's compiled plan
        body = (await gateway.client.post("/graphql", json={"query": query})).json()
        assert body["data"] is None, body
        [error] = body["errors"]
        assert error["extensions"]["code"] == "INVALID_ARGUMENT"
        assert "the range ends (2019-01-01) before it starts (2020-01-01)" in error["message"]
