"""A supplier published without an identifier the registry records -- a name only (eForms
notices converted to OCDS: `ORG-0001` and a name), or a local scheme that is no org-id.guide
register (Mexico's `RFC`, Colombia's `NIT`) -- is recorded, not refused (import35, #17 (a)):
found by its name among the release's parties when exactly one code is recorded for that
name; else under a code derived from its name within its publisher's scope (the ocid's
registered prefix), with the finding SUPPLIER_UNIDENTIFIED, queryable as the buyer's
CONTRACTING_AUTHORITY_UNIDENTIFIED is. Two publishers' firms of one name stay two; within one
publisher one name is one firm; a release naming one firm twice records it once. Without a
name or an identifier it is still refused, with its path. Before: every such release was
skipped ("has no identifier the registry records")."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from audit.bitemporal import Horizon
from audit.ocds.export import Register
from audit.ocds.importer import Report, import_items
from audit.ocds.importer_map import contract_id_of, tender_id_of
from audit.ocds.importer_read import read
from audit.ocds.packages import merger
from bootstrap.parts import enrolment_service, registry_service
from contracts_schema.registry.values import named_supplier_code
from contracts_schema.subjects import CONTEXTS, REGISTRY
from eventstore.clock import FixedClock
from eventstore.memory import InMemoryEventStore
from tests.integration.gateway.harness import start_memory_gateway
from tests.service.bus import InProcessBus

OCID = "ocds-mx0001-LA-012345"
FIRM = "Constructora del Valle S.A. de C.V."
BUYER = {"id": "b", "name": "Gemeente Zaanstad", "roles": ["buyer"],
         "identifier": {"scheme": "NL-KVK", "id": "12345678"}}  # fmt: skip


def release(
    ocid: str,
    suppliers: list[dict[str, Any]],
    refs: list[list[dict[str, Any]]] | None = None,
    lots: int = 0,
) -> dict[str, Any]:
    """One tender, awarded and signed: `suppliers` are the supplier parties; `refs` the
    awards' supplier references (one award per item, each for one lot when `lots`), by
    default one award naming every supplier party."""
    refs = refs if refs is not None else [[{"id": p["id"]} for p in suppliers]]
    tender: dict[str, Any] = {
        "id": "t", "title": "Obra pública", "status": "complete", "procurementMethod": "open",
        "tenderPeriod": {"startDate": "2021-03-04T00:00:00Z"},
    }  # fmt: skip
    if lots:
        tender["lots"] = [{"id": f"L{n}", "title": f"Lote {n}"} for n in range(1, lots + 1)]
    awards = [
        {"id": f"a{n}", "status": "active", "date": "2021-04-01T00:00:00Z", "suppliers": ref,
         **({"relatedLots": [f"L{n + 1}"]} if lots else {})}
        for n, ref in enumerate(refs)
    ]  # fmt: skip
    contracts = [
        {"id": f"c{n}", "awardID": f"a{n}", "status": "active",
         "dateSigned": "2021-05-01T00:00:00Z",
         "period": {"startDate": "2021-05-01T00:00:00Z", "endDate": "2022-04-30T00:00:00Z"},
         "value": {"amount": 125000, "currency": "EUR"}}
        for n in range(len(refs))
    ]  # fmt: skip
    return {
        "ocid": ocid, "id": f"{ocid}-1", "date": "2021-05-02T09:00:00Z",
        "tag": ["award", "contract"], "initiationType": "tender", "buyer": {"id": "b"},
        "parties": [BUYER, *suppliers], "tender": tender, "awards": awards,
        "contracts": contracts,
    }  # fmt: skip


def package(*releases: dict[str, Any]) -> bytes:
    return json.dumps({
        "uri": "https://portal.example/ocds", "version": "1.1",
        "publishedDate": "2021-05-02T09:00:00Z", "publisher": {"name": "Portal"},
        "releases": list(releases),
    }).encode()  # fmt: skip


async def registry() -> tuple[InMemoryEventStore, InProcessBus]:
    clock = FixedClock(datetime(2026, 1, 15, 12, 0, tzinfo=UTC))
    store = InMemoryEventStore(clock)
    for context in CONTEXTS.values():
        await store.ensure_stream(context)
    services = [registry_service(store, clock), enrolment_service(store, clock)]
    for service in services:
        await service.start()
    return store, InProcessBus(services)


async def run(store: InMemoryEventStore, bus: InProcessBus, data: bytes) -> Report:
    return await import_items(read(data, "portal"), bus.request, store)


async def events(store: InMemoryEventStore, aggregate: str, key: str) -> list[Any]:
    return [e.envelope for e in (await store.load(REGISTRY, aggregate, key)).events]


def one(found: list[Any], event_type: str) -> Any:
    [event] = [e for e in found if e.event_type == event_type]
    return event


def findings(found: list[Any], provenance: str) -> list[dict[str, Any]]:
    return [f for e in found if e.event_type == provenance for f in e.payload["findings"]]


async def test_a_supplier_published_by_name_only_is_recorded_with_a_finding() -> None:
    store, bus = await registry()
    report = await run(store, bus, package(release(OCID, [
        {"id": "ORG-0001", "name": FIRM, "roles": ["supplier"]}])))  # fmt: skip
    assert not report.skipped, report.skipped
    code = named_supplier_code("ocds-mx0001", FIRM)
    tender = await events(store, "tender", tender_id_of(OCID))
    assert one(tender, "ProvisionalAwardDecided").payload["supplier_ids"] == [code]
    assert one(tender, "AwardMadeDefinitive").payload["supplier_ids"] == [code]
    [finding] = findings(tender, "TenderReleaseImported")
    assert finding["code"] == "SUPPLIER_UNIDENTIFIED", finding
    assert code in finding["message"], finding
    contract = await events(store, "contract", contract_id_of(OCID, "c0"))
    signed = one(contract, "ContractSigned").payload["suppliers"]
    assert signed == [{"supplier_id": code, "name": FIRM, "lot_ids": ["lot-1"]}], signed
    [finding] = findings(contract, "ContractReleaseImported")
    assert finding["code"] == "SUPPLIER_UNIDENTIFIED", finding
    assert f"{code} ({FIRM!r})" in finding["message"], finding


async def test_a_supplier_of_a_local_scheme_is_recorded_by_its_name() -> None:
    store, bus = await registry()
    party = {"id": "proveedor-17", "name": FIRM, "roles": ["supplier"],
             "identifier": {"scheme": "RFC", "id": "CVA0101011A1", "legalName": FIRM}}  # fmt: skip
    report = await run(store, bus, package(release(OCID, [party])))
    assert not report.skipped, report.skipped
    code = named_supplier_code("ocds-mx0001", FIRM)
    tender = await events(store, "tender", tender_id_of(OCID))
    assert one(tender, "ProvisionalAwardDecided").payload["supplier_ids"] == [code]
    assert [f["code"] for f in findings(tender, "TenderReleaseImported")] == [
        "SUPPLIER_UNIDENTIFIED"
    ]


async def test_a_name_only_supplier_named_like_an_identified_party_is_that_party() -> None:
    store, bus = await registry()
    parties = [{"id": "s", "name": FIRM, "roles": ["supplier"]},
               {"id": "t", "name": f" {FIRM.upper()}  ", "roles": ["tenderer"],
                "identifier": {"scheme": "GB-COH", "id": "01234567"}}]  # fmt: skip
    report = await run(store, bus, package(release(OCID, parties, [[{"id": "s"}]])))
    assert not report.skipped, report.skipped
    tender = await events(store, "tender", tender_id_of(OCID))
    assert one(tender, "ProvisionalAwardDecided").payload["supplier_ids"] == ["GB-COH-01234567"]
    assert findings(tender, "TenderReleaseImported") == []


async def test_two_publishers_firms_of_one_name_stay_two_one_publishers_are_one() -> None:
    store, bus = await registry()
    firm = {"id": "ORG-0001", "name": FIRM, "roles": ["supplier"]}
    ocids = ["ocds-mx0001-LA-1", "ocds-mx0001-LA-2", "ocds-co0002-CO1-1"]
    report = await run(store, bus, package(*(release(o, [firm]) for o in ocids)))
    assert not report.skipped, report.skipped
    codes = []
    for ocid in ocids:
        tender = await events(store, "tender", tender_id_of(ocid))
        codes.append(one(tender, "ProvisionalAwardDecided").payload["supplier_ids"])
    mexico, colombia = (
        named_supplier_code("ocds-mx0001", FIRM),
        named_supplier_code("ocds-co0002", FIRM),
    )
    assert mexico != colombia
    assert codes == [[mexico], [mexico], [colombia]], codes


async def test_a_release_naming_one_firm_twice_records_it_once() -> None:
    store, bus = await registry()
    # Two parties of one name (spaces and case aside), both named by one award; and the
    # same firm awarded two lots by two awards.
    parties = [{"id": "ORG-0001", "name": FIRM, "roles": ["supplier"]},
               {"id": "ORG-0002", "name": f"{FIRM.lower()} ", "roles": ["supplier"]}]  # fmt: skip
    refs = [[{"id": "ORG-0001"}, {"id": "ORG-0002"}], [{"id": "ORG-0002"}]]
    report = await run(store, bus, package(release(OCID, parties, refs, lots=2)))
    assert not report.skipped, report.skipped
    code = named_supplier_code("ocds-mx0001", FIRM)
    tender = await events(store, "tender", tender_id_of(OCID))
    decided = [e.payload for e in tender if e.event_type == "ProvisionalAwardDecided"]
    assert sorted((d["lot_id"], d["supplier_ids"]) for d in decided) == [
        ("L1", [code]),
        ("L2", [code]),
    ], decided
    for n in range(2):
        contract = await events(store, "contract", contract_id_of(OCID, f"c{n}"))
        [signed] = one(contract, "ContractSigned").payload["suppliers"]
        assert (signed["supplier_id"], signed["lot_ids"]) == (code, [f"L{n + 1}"]), signed
    # Re-run: the same codes, nothing appended.
    again = await run(store, bus, package(release(OCID, parties, refs, lots=2)))
    assert (again.imported, again.duplicates, again.skipped) == (0, 1, []), again


async def test_a_supplier_without_name_or_identifier_is_still_refused() -> None:
    store, bus = await registry()
    report = await run(store, bus, package(release(OCID, [{"id": "ORG-0001"}])))
    assert [p.path for p in report.skipped] == ["$.releases[0].awards[0].suppliers[0]"], (
        report.skipped
    )
    assert await events(store, "tender", tender_id_of(OCID)) == []


async def test_the_re_export_names_the_supplier_as_published_without_an_identifier() -> None:
    store, bus = await registry()
    party = {"id": "proveedor-17", "name": FIRM, "roles": ["supplier"],
             "identifier": {"scheme": "RFC", "id": "CVA0101011A1"}}  # fmt: skip
    assert not (await run(store, bus, package(release(OCID, [party])))).skipped
    now = datetime.now(UTC)
    register = await Register.read(store, Horizon(now, now))
    compiled = merger().create_compiled_release(register.export(tender_id_of(OCID)).tender)
    code = named_supplier_code("ocds-mx0001", FIRM)
    [supplier] = [p for p in compiled["parties"] if p["id"] == code]
    assert supplier["name"] == FIRM, supplier
    assert "identifier" not in supplier, supplier
    assert "supplier" in supplier["roles"], supplier
    # (the export shows the lot's award and the contract's own)
    assert {json.dumps(a["suppliers"]) for a in compiled["awards"]} == {
        json.dumps([{"id": code, "name": FIRM}])
    }, compiled["awards"]


QUERY = """query ($c: String!) {
  contract(contractId: $c) { suppliers { supplierId name } }
  lawFindings(filter: {code: ["SUPPLIER_UNIDENTIFIED"]}) { nodes { code source subject } } }"""


async def test_graphql_shows_the_supplier_and_its_finding(tmp_path: Path) -> None:
    store, bus = await registry()
    firm = {"id": "ORG-0001", "name": FIRM, "roles": ["supplier"]}
    assert not (await run(store, bus, package(release(OCID, [firm])))).skipped
    g = await start_memory_gateway(store, f"sqlite:///{tmp_path / 'read.db'}", commands=bus)
    try:
        for runner in g.runners:
            assert await runner.wait_until(await runner.stream_heads(), timeout=60)
        cid = contract_id_of(OCID, "c0")
        body = await g.query(QUERY, {"c": cid}, token=g.token("coordinator"))
    finally:
        await g.stop()
    assert "errors" not in body, body
    code = named_supplier_code("ocds-mx0001", FIRM)
    assert body["data"]["contract"]["suppliers"] == [{"supplierId": code, "name": FIRM}], body
    found = sorted(
        (f["code"], f["source"], f["subject"]) for f in body["data"]["lawFindings"]["nodes"]
    )
    assert found == [("SUPPLIER_UNIDENTIFIED", "System", "lot-1"),
                     ("SUPPLIER_UNIDENTIFIED", "System", cid)], body  # fmt: skip


async def test_the_audit_replay_shows_the_supplier_and_its_finding() -> None:
    """`audit replay contract/<id>` folds the stored envelopes: the supplier under its code,
    with its name as published, and the finding recorded with the release."""
    from audit.history import replay

    store, bus = await registry()
    firm = {"id": "ORG-0001", "name": FIRM, "roles": ["supplier"]}
    assert not (await run(store, bus, package(release(OCID, [firm])))).skipped
    cid = contract_id_of(OCID, "c0")
    envelopes = await events(store, "contract", cid)
    now = datetime.now(UTC)
    replayed = replay("contract", cid, envelopes, Horizon(now, now))
    code = named_supplier_code("ocds-mx0001", FIRM)
    assert code in json.dumps(replayed.state["suppliers"]), replayed.state["suppliers"]
    codes = [f["code"] for f in replayed.state["law_findings"]]
    assert codes == ["SUPPLIER_UNIDENTIFIED"], replayed.state["law_findings"]


async def test_an_ocid_without_a_registered_prefix_scopes_its_suppliers_to_itself() -> None:
    """`ocds-abcd1234-...` (a converter's made-up prefix: eight characters, not OCDS's six)
    names no publisher: its suppliers by name are known within that process only."""
    store, bus = await registry()
    firm = {"id": "ORG-0001", "name": FIRM, "roles": ["supplier"]}
    ocids = ["ocds-abcd1234-p1", "ocds-abcd1234-p2"]
    assert not (await run(store, bus, package(*(release(o, [firm]) for o in ocids)))).skipped
    codes = []
    for ocid in ocids:
        tender = await events(store, "tender", tender_id_of(ocid))
        codes.append(one(tender, "ProvisionalAwardDecided").payload["supplier_ids"])
    assert codes == [[named_supplier_code(o, FIRM)] for o in ocids], codes
