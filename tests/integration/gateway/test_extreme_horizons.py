"""The first and last representable days as `asOf` (and the earliest `knownAt`) are answered,
not turned into an internal error: the end of 9999-12-31 has no next midnight to count back
from, and it once raised OverflowError inside the request ("Unexpected error")."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

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


async def _ask(g: Gateway, horizon: str) -> dict[str, object]:
    assert g.client is not None
    query = f'{{ tenders({horizon}) {{ totalCount }} tender(tenderId: "gt-mc1", {horizon}) {{ phase }} }}'
    response = await g.client.post("/graphql", json={"query": query})
    assert response.status_code == 200
    body: dict[str, object] = response.json()
    return body


async def test_the_last_representable_day_is_the_present_and_the_first_is_empty(
    gateway: Gateway,
) -> None:
    present = await _ask(gateway, 'asOf: "5000-01-01"')
    assert "errors" not in present, present
    assert present["data"]["tender"] is not None  # type: ignore[index]
    last = await _ask(gateway, 'asOf: "9999-12-31"')
    assert "errors" not in last, last
    assert last["data"] == present["data"]  # nothing recorded ends between 5000 and 9999
    first = await _ask(gateway, 'asOf: "0001-01-01"')
    assert "errors" not in first, first
    assert first["data"] == {"tenders": {"totalCount": 0}, "tender": None}
    earliest = await _ask(gateway, 'knownAt: "0001-01-01T00:00:00Z"')
    assert "errors" not in earliest, earliest
    assert earliest["data"] == {"tenders": {"totalCount": 0}, "tender": None}
