"""A buyer published by name only (no identifier: recorded under a code derived from its
name, XX-NAMED-..., with the finding CONTRACTING_AUTHORITY_UNIDENTIFIED) keeps its name. Before,
the name was lost on import: GraphQL's `contractingAuthority` was null, the OCDS re-export named
the buyer by its derived code, the finding did not say which name. Now the tender's
TenderPlanned carries the name as published (`contracting_authority_name`), and each of them
shows it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from audit.bitemporal import Horizon
from audit.ocds.export import Register
from audit.ocds.importer import import_items
from audit.ocds.importer_map import tender_id_of
from audit.ocds.importer_read import read
from audit.ocds.packages import merger
from contracts_schema.registry.values import named_only_code
from eventstore.memory import InMemoryEventStore
from tests.integration.gateway.harness import start_memory_gateway
from tests.service.bus import InProcessBus
from tests.service.test_correct11_unidentified_buyer import BUYER, package

QUERY = """query ($t: String!) {
  tender(tenderId: $t) { contractingAuthorityCode contractingAuthority { code name kind } }
  lawFindings { nodes { code message } } }"""
OCID = "ocds-nl0000-224466"


async def imported(store: InMemoryEventStore, bus: InProcessBus) -> None:
    # Published with stray spaces, as portals do: recorded as one name.
    party = {"id": "NL-TN-1234", "name": f"  {BUYER} ", "roles": ["buyer"]}
    data = package({"id": "NL-TN-1234", "name": BUYER}, [party])
    report = await import_items(read(data, "portal"), bus.request, store)
    assert not report.skipped, report.skipped


async def test_graphql_names_the_buyer_published_by_name_only(
    store: InMemoryEventStore, bus: InProcessBus, tmp_path: Path
) -> None:
    await imported(store, bus)
    g = await start_memory_gateway(store, f"sqlite:///{tmp_path / 'read.db'}", commands=bus)
    try:
        for runner in g.runners:
            assert await runner.wait_until(await runner.stream_heads(), timeout=10)
        body = await g.query(QUERY, {"t": tender_id_of(OCID)}, token=g.token("coordinator"))
    finally:
        await g.stop()
    assert "errors" not in body, body
    code = named_only_code(BUYER)
    assert body["data"]["tender"] == {
        "contractingAuthorityCode": code,
        "contractingAuthority": {"code": code, "name": BUYER, "kind": "OTHER"},
    }, body
    [finding] = body["data"]["lawFindings"]["nodes"]
    assert finding["code"] == "CONTRACTING_AUTHORITY_UNIDENTIFIED", finding
    assert f"published by name only ('{BUYER}')" in finding["message"], finding


async def test_the_ocds_re_export_names_the_buyer(
    store: InMemoryEventStore, bus: InProcessBus
) -> None:
    await imported(store, bus)
    now = datetime.now(UTC)
    register = await Register.read(store, Horizon(now, now))
    [process_id] = list(register.process_ids())
    releases = register.export(process_id).tender
    code = named_only_code(BUYER)
    compiled = merger().create_compiled_release(releases)
    assert compiled["buyer"] == {"id": code, "name": BUYER}, compiled["buyer"]
    [party] = [p for p in compiled["parties"] if p["id"] == code]
    assert party["name"] == BUYER, party
