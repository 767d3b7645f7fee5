"""The gateway's read models on the in-memory store and SQLite, queried through its GraphQL.

Events come from the services' own commands (or, for a backdated fact, are given as a
service would store them); the ProjectionRunner feeds every read model of
`gateway.projections.ALL` from the in-memory subscriber, checkpoint in the same transaction.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from eventstore.clock import FixedClock
from eventstore.memory import InMemoryEventStore
from eventstore.versioned import VersionedProjection
from tests.integration.gateway.harness import Gateway, start_memory_gateway
from tests.service.bus import InProcessBus
from tests.service.story import LNVT, framework_signed, freeze, plan, publish

TENDER = """query ($asOf: Date, $knownAt: DateTime) {
  tender(tenderId: "gt-connect", asOf: $asOf, knownAt: $knownAt) {
    phase title lots { lotId status supplierIds }
  }
}"""
CONTRACT = """query ($asOf: Date, $knownAt: DateTime) {
  contract(contractId: "c1", asOf: $asOf, knownAt: $knownAt) { endDate valueEur lastAmendment }
}"""


@pytest.fixture
def sqlite_file(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'read-models.db'}"


@pytest.fixture
async def gateway(
    store: InMemoryEventStore, bus: InProcessBus, sqlite_file: str
) -> AsyncIterator[Gateway]:
    g = await start_memory_gateway(store, sqlite_file, commands=bus)
    try:
        yield g
    finally:
        await g.stop()


async def settled(g: Gateway, store: InMemoryEventStore) -> None:
    """Wait until every read model has applied everything stored so far (read your writes)."""
    assert g.read is not None
    for runner in g.runners:
        assert await runner.wait_until(await runner.stream_heads(), timeout=120), (
            runner.projection.key
        )


async def query(g: Gateway, text: str, **variables: Any) -> Any:
    body = await g.query(text, variables)
    assert "errors" not in body, body
    return body["data"]


async def test_a_tender_reads_as_the_registry_decided_it_now_and_in_the_past(
    gateway: Gateway, bus: InProcessBus, store: InMemoryEventStore
) -> None:
    await framework_signed(bus)
    await settled(gateway, store)
    now = (await query(gateway, TENDER))["tender"]
    assert now["phase"] == "AWARDED"
    assert {lot["lotId"]: lot["supplierIds"] for lot in now["lots"]} == {
        "voice": ["KVK-27124701"],
        "data": ["KVK-14052264"],
    }
    # Valid time: as it stood on given days.
    assert (await query(gateway, TENDER, asOf="2019-03-01"))["tender"]["phase"] == "PLANNED"
    assert (await query(gateway, TENDER, asOf="2019-06-15"))["tender"]["phase"] == "PUBLISHED"
    assert (await query(gateway, TENDER, asOf="2018-12-31"))["tender"] is None


async def test_a_backdated_amendment_changes_the_past_but_not_what_was_known_before(
    gateway: Gateway, store: InMemoryEventStore, clock: FixedClock
) -> None:
    g = gateway
    signed = await g.given(
        "contract",
        "ContractSigned",
        {
            "contract_id": "c1",
            "kind": "contract",
            "contracting_authority": LNVT,
            "suppliers": [{"supplier_id": "KVK-27124701", "name": "KPN", "lot_ids": []}],
            "signed_on": "2016-01-01",
            "start_date": "2016-01-01",
            "end_date": "2019-01-14",
            "value_eur": 1000,
        },
        on=date(2016, 1, 1),
    )
    known_before = signed[0].envelope.recorded_at.isoformat()
    clock.advance(timedelta(days=30))  # the amendment is recorded a month later
    amended = await g.given(
        "contract",
        "ContractAmended",
        {
            "contract_id": "c1",
            "amended_on": "2017-06-01",
            "summary": "verlengd",
            "new_end_date": "2020-01-14",
            "new_value_eur": 1500,
        },
        on=date(2017, 6, 1),
    )
    await g.settle(signed + amended)  # the consistency token of the events, as a client waits
    assert (await query(g, CONTRACT, asOf="2018-01-01"))["contract"] == {
        "endDate": "2020-01-14",
        "valueEur": "1500.00",
        "lastAmendment": "verlengd",
    }
    assert (await query(g, CONTRACT, asOf="2016-06-01"))["contract"]["endDate"] == "2019-01-14"
    before = (await query(g, CONTRACT, asOf="2018-01-01", knownAt=known_before))["contract"]
    assert (before["endDate"], before["lastAmendment"]) == ("2019-01-14", None)


async def test_read_models_resume_from_their_checkpoints_after_a_restart(
    store: InMemoryEventStore, bus: InProcessBus, sqlite_file: str
) -> None:
    first = await start_memory_gateway(store, sqlite_file)
    await bus.accept(plan())
    await settled(first, store)
    await first.stop()
    # Written while no read model runs; a versioned read model then needs the tender's
    # earlier events again (from the store, through the runner's source).
    await freeze(bus)
    await bus.accept(publish())
    second = await start_memory_gateway(store, sqlite_file)
    try:
        await settled(second, store)
        assert (await query(second, TENDER))["tender"]["phase"] == "PUBLISHED"
        assert (await query(second, TENDER, asOf="2019-03-01"))["tender"]["phase"] == "PLANNED"
        # Nothing parked: had a runner started from zero instead of its checkpoint, the tender
        # fold would have refused TenderPlanned a second time.
        statuses = [await r.status() for r in second.runners]
        assert all(s.caught_up and s.parked == 0 for s in statuses), statuses
    finally:
        await second.stop()


async def test_a_tiny_timeline_cache_writes_the_same_versions(
    store: InMemoryEventStore,
    bus: InProcessBus,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Evicted timelines come back from the event store when their aggregate next changes:
    # the versions written are those of a cache that forgets nothing. Three tenders planned,
    # then each frozen and published: every publication finds its tender evicted.
    tenders = ("t-a", "t-b", "t-c")
    for tender_id in tenders:
        await bus.accept(plan(tender_id))
    for tender_id in tenders:
        await freeze(bus, tender_id)
        await bus.accept(publish(tender_id))
    roomy = await start_memory_gateway(store, f"sqlite:///{tmp_path / 'roomy.db'}")
    try:
        await settled(roomy, store)
        expected = roomy.versions()
    finally:
        await roomy.stop()
    monkeypatch.setattr(VersionedProjection, "cache_events", 1)
    tiny = await start_memory_gateway(store, f"sqlite:///{tmp_path / 'tiny.db'}")
    try:
        await settled(tiny, store)
        assert [(await r.status()).parked for r in tiny.runners] == [0] * len(tiny.runners)
        assert tiny.versions() == expected
    finally:
        await tiny.stop()
