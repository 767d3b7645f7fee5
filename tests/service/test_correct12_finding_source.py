"""A law finding says whose rule it is. CONTRACTING_AUTHORITY_UNIDENTIFIED is a rule of this
registry (its refusal catalogue's source "System": organisations are identified by a stable
code), not of procurement law; GraphQL called every finding "a rule of procurement law" and
gave no way to tell them apart. Now `LawFinding.source` / `LawFindingRecord.source` carry the
catalogue's source: "System", or the article of law (STANDSTILL_NOT_ENDED's)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from audit.ocds.importer import import_items
from audit.ocds.importer_map import tender_id_of
from audit.ocds.importer_read import read
from contracts_schema.refusals import REFUSALS, SYSTEM
from eventstore.memory import InMemoryEventStore
from gateway.schema import law_findings
from tests.integration.gateway.harness import start_memory_gateway
from tests.service.bus import InProcessBus
from tests.service.test_correct11_unidentified_buyer import BUYER, package
from tests.service.test_ocds_import import _process

SOURCES = """query ($t: String!) {
  tender(tenderId: $t) { lawFindings { code source } }
  lawFindings { nodes { code source on } }
}"""


async def test_each_finding_names_its_source_system_or_the_law(
    store: InMemoryEventStore, bus: InProcessBus, tmp_path: Path
) -> None:
    party = {"id": "NL-TN-1234", "name": BUYER, "roles": ["buyer"]}
    unidentified = package({"id": "NL-TN-1234", "name": BUYER}, [party])
    for data in (unidentified, json.dumps(_process(10, 6)).encode()):
        report = await import_items(read(data, "portal"), bus.request, store)
        assert not report.skipped, report.skipped
    g = await start_memory_gateway(store, f"sqlite:///{tmp_path / 'read.db'}", commands=bus)
    try:
        for runner in g.runners:
            assert await runner.wait_until(await runner.stream_heads(), timeout=120)
        tender = tender_id_of("ocds-nl0000-224466")
        body = await g.query(SOURCES, {"t": tender}, token=g.token("coordinator"))
    finally:
        await g.stop()
    assert "errors" not in body, body
    assert body["data"]["tender"]["lawFindings"] == [
        {"code": "CONTRACTING_AUTHORITY_UNIDENTIFIED", "source": SYSTEM}
    ]
    sources = {n["code"]: n["source"] for n in body["data"]["lawFindings"]["nodes"]}
    assert sources["CONTRACTING_AUTHORITY_UNIDENTIFIED"] == "System"
    assert sources["STANDSTILL_NOT_ENDED"] == REFUSALS["STANDSTILL_NOT_ENDED"].source
    assert sources["STANDSTILL_NOT_ENDED"].startswith("Aw 2012")


async def test_a_code_dropped_from_the_catalogue_is_still_filtered_where_findings_carry_it(
    store: InMemoryEventStore, bus: InProcessBus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = await import_items(
        read(json.dumps(_process(10, 6)).encode(), "portal"), bus.request, store
    )
    assert not report.skipped, report.skipped
    # The catalogue of a later release no longer lists the rule these findings recorded.
    dropped = {k: v for k, v in REFUSALS.items() if k != "STANDSTILL_NOT_ENDED"}
    monkeypatch.setattr(law_findings, "REFUSALS", dropped)
    g = await start_memory_gateway(store, f"sqlite:///{tmp_path / 'read.db'}", commands=bus)
    try:
        for runner in g.runners:
            assert await runner.wait_until(await runner.stream_heads(), timeout=120)
        query = "query ($c: [String!]) { lawFindings(filter: {code: $c}) { totalCount } }"
        coordinator = g.token("coordinator")
        kept = await g.query(query, {"c": ["STANDSTILL_NOT_ENDED"]}, token=coordinator)
        misspelt = await g.query(query, {"c": ["STANDSTILL_NOT_ENDE"]}, token=coordinator)
    finally:
        await g.stop()
    assert "errors" not in kept, kept
    assert kept["data"]["lawFindings"]["totalCount"] >= 1
    assert misspelt["errors"][0]["extensions"]["code"] == "INVALID_ARGUMENT", misspelt
