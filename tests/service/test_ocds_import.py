"""`audit ocds import` through its public function on the services' in-memory wiring:
published OCDS data becomes the registry's facts with provenance, bad releases are reported
by JSON path and skipped, a re-run stores nothing twice, and the law findings are recorded."""

from __future__ import annotations

import copy
import gzip
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from audit.ocds.importer import Report, import_items
from audit.ocds.importer_read import read
from contracts_schema.folds import FOLDS
from contracts_schema.registry.import_commands import (
    ImportedFact,
    ImportedRelease,
    ImportProcessReleases,
    ProcessReleasesImported,
    RecordImportedTenderRelease,
)
from contracts_schema.replies import CommandAccepted, CommandRequest
from contracts_schema.subjects import REGISTRY
from eventstore.folded import load_folded
from eventstore.memory import InMemoryEventStore
from tests.integration.gateway.harness import start_memory_gateway
from tests.service.bus import InProcessBus

DATA = Path(__file__).parent / "data" / "ocds"
OCID = "ocds-213czf-000-00001"


async def run(store: InMemoryEventStore, bus: InProcessBus, data: bytes) -> Report:
    return await import_items(read(data, "unknown publisher"), bus.request, store)


async def stored(store: InMemoryEventStore) -> list[Any]:
    return [e async for e in store.read_stream(REGISTRY)]


async def test_published_releases_become_registry_facts_with_provenance(
    store: InMemoryEventStore, bus: InProcessBus
) -> None:
    report = await run(store, bus, (DATA / "fictional-releases.json").read_bytes())
    assert (report.imported, report.skipped, report.duplicates) == (6, [], 0)
    tender = await load_folded(store, FOLDS["registry", "tender"], OCID)
    assert tender.title == "Planned cycle lane improvements"
    assert tender.source_ocid == OCID
    assert tender.contracting_authority == "GB-LAC-E09000003"
    contract_id = f"{OCID}-contract-01"
    contract = await load_folded(store, FOLDS["registry", "contract"], contract_id)
    assert str(contract.end_date) == "2011-06-30"
    assert [s.name for s in contract.suppliers] == ["AnyCorp Cycle Provision"]
    events = await stored(store)
    actors = {e.envelope.actor for e in events if e.envelope.actor.startswith("import:")}
    assert actors == {"import:Open Data Services Co-operative Limited"}
    planned = next(e.envelope for e in events if e.envelope.event_type == "TenderPlanned")
    assert planned.occurred_at.isoformat().startswith("2009-03-15T14:45")  # release date


async def test_the_same_input_imported_twice_changes_nothing(
    store: InMemoryEventStore, bus: InProcessBus
) -> None:
    data = gzip.compress((DATA / "fictional-releases.json").read_bytes())
    await run(store, bus, data)
    before = len(await stored(store))
    again = await run(store, bus, data)
    assert (again.imported, again.skipped, again.duplicates) == (0, [], 6)
    assert len(await stored(store)) == before


async def test_a_malformed_package_imports_the_valid_releases_and_names_each_bad_one(
    store: InMemoryEventStore, bus: InProcessBus
) -> None:
    package = json.loads((DATA / "fictional-releases.json").read_text())
    good = package["releases"][0]
    no_ocid = copy.deepcopy(good)
    del no_ocid["ocid"]
    bad_code = copy.deepcopy(good)
    bad_code["ocid"], bad_code["tender"]["status"] = "ocds-213czf-2", "no-such-status"
    unknown_party = copy.deepcopy(good)
    unknown_party["ocid"] = "ocds-213czf-3"
    unknown_party["parties"][0]["id"] = unknown_party["buyer"]["id"] = "somebody"
    del unknown_party["parties"][0]["identifier"]
    unknown_party["tender"]["procuringEntity"]["id"] = "somebody"
    # Nameless too: a buyer with a name only is recorded by it, with a finding (correct11).
    for nameless in (unknown_party["parties"][0], unknown_party["buyer"]):
        nameless.pop("name", None)
    unknown_party["tender"]["procuringEntity"].pop("name", None)
    package["releases"] = [good, no_ocid, bad_code, unknown_party]
    lines = [json.dumps(package), "{not json", json.dumps({"hello": 1})]
    report = await run(store, bus, "\n".join(lines).encode())
    assert report.imported == 1
    where = {p.path: p.reason for p in report.skipped}
    assert "'ocid' is a required property" in where["line 1: $.releases[1]"]
    assert "no-such-status" in where["line 1: $.releases[2]"]
    assert "somebody" in where["line 1: $.releases[3].tender.procuringEntity"]
    assert where["line 2"].startswith("bad JSON")
    assert "neither a release package" in where["line 3: $"]
    # Nothing stored is lost or duplicated on a re-run.
    before = len(await stored(store))
    again = await run(store, bus, "\n".join(lines).encode())
    assert (again.imported, again.duplicates, len(again.skipped)) == (0, 1, 5)
    assert len(await stored(store)) == before


def _process(standstill_days: int, framework_years: int) -> dict[str, Any]:
    party = {"id": "NL-KVK-71830960", "name": "VNG", "roles": ["buyer"]}
    supplier = {"id": "NL-KVK-27124701", "name": "KPN B.V.", "roles": ["supplier"]}
    ref = {"id": "NL-KVK-71830960", "name": "VNG"}
    award = {"id": "a1", "status": "active", "date": "2020-03-02T09:00:00Z",
             "suppliers": [{"id": "NL-KVK-27124701", "name": "KPN B.V."}]}  # fmt: skip
    signed = f"2020-03-{2 + standstill_days:02d}T09:00:00Z"
    base = {"ocid": "ocds-gtnl99-x1", "initiationType": "tender", "parties": [party, supplier],
            "buyer": ref}  # fmt: skip
    return {
        "version": "1.1",
        "publisher": {"name": "TenderNed"},
        "releases": [
            {**base, "id": "r1", "date": "2020-01-06T09:00:00Z", "tag": ["tender"],
             "tender": {"id": "t", "title": "Telefonie", "status": "active",
                        "procurementMethod": "open", "techniques": {"hasFrameworkAgreement": True},
                        "tenderPeriod": {"startDate": "2020-01-06T09:00:00Z"}}},
            {**base, "id": "r2", "date": signed, "tag": ["award", "contract"], "awards": [award],
             "contracts": [{"id": "c1", "awardID": "a1", "status": "active", "dateSigned": signed,
                            "period": {"startDate": "2020-04-01T00:00:00Z",
                                       "endDate": f"{2020 + framework_years}-03-31T00:00:00Z"},
                            "value": {"amount": 1000000, "currency": "EUR"}}]},
        ],
    }  # fmt: skip


async def test_the_rules_of_procurement_law_are_findings_not_refusals(
    store: InMemoryEventStore, bus: InProcessBus
) -> None:
    report = await run(store, bus, json.dumps(_process(10, 6)).encode())
    assert (report.imported, report.skipped) == (2, [])
    contract = await load_folded(store, FOLDS["registry", "contract"], "ocds-gtnl99-x1-c1")
    assert contract.value_eur == 1000000
    # Recorded although the registry would have refused both: signed 10 days after the award
    # decision (standstill: 20), a 6-year framework without a rationale.
    assert {f.code for f in contract.law_findings} == {
        "STANDSTILL_NOT_ENDED",
        "FRAMEWORK_RATIONALE_REQUIRED",
    }


async def test_a_lawful_process_has_no_findings(
    store: InMemoryEventStore, bus: InProcessBus
) -> None:
    await run(store, bus, json.dumps(_process(25, 4)).encode())
    contract = await load_folded(store, FOLDS["registry", "contract"], "ocds-gtnl99-x1-c1")
    tender = await load_folded(store, FOLDS["registry", "tender"], "ocds-gtnl99-x1")
    assert contract.exists
    assert contract.law_findings == ()
    assert tender.law_findings == ()


async def test_framework_examples_without_identifiable_parties_are_reported(
    store: InMemoryEventStore, bus: InProcessBus
) -> None:
    # No buyer at all: reported. (closed_single_award.json, whose supplier is published by
    # name only, is imported since import35: tests/service/test_ocds_round_trip.py.)
    report = await run(store, bus, (DATA / "open_multiple_award.json").read_bytes())
    assert report.imported == 0, report
    assert [p.path for p in report.skipped] == ["$.releases[0].buyer"], report


FINDINGS = """query ($t: String!, $c: String!) {
  tender(tenderId: $t) { lawFindings { code message subject } }
  contract(contractId: $c) { lawFindings { code message subject } }
}"""


async def test_the_law_findings_are_queryable_in_graphql(
    store: InMemoryEventStore, bus: InProcessBus, tmp_path: Path
) -> None:
    await run(store, bus, json.dumps(_process(10, 6)).encode())
    g = await start_memory_gateway(store, f"sqlite:///{tmp_path / 'read.db'}", commands=bus)
    try:
        for runner in g.runners:  # read your writes: every stored event applied
            assert await runner.wait_until(await runner.stream_heads(), timeout=120)
        variables = {"t": "ocds-gtnl99-x1", "c": "ocds-gtnl99-x1-c1"}
        body = await g.query(FINDINGS, variables, token=g.token("coordinator"))
    finally:
        await g.stop()
    assert "errors" not in body, body
    found = body["data"]["contract"]["lawFindings"]
    assert {f["code"] for f in found} == {"STANDSTILL_NOT_ENDED", "FRAMEWORK_RATIONALE_REQUIRED"}
    assert all(f["message"] for f in found)
    assert body["data"]["tender"]["lawFindings"] == []


def _planned(ocid: str, rid: str, day: int) -> RecordImportedTenderRelease:
    at = datetime(2020, 1, day, 9, tzinfo=UTC)
    fact = ImportedFact(event_type="TenderPlanned", payload={
        "tender_id": ocid, "title": "Telefonie", "contracting_authority": "KVK-71830960",
        "procedure": "open", "framework": False, "lots": [{"lot_id": "lot-1", "title": "t"}],
        "planned_on": at.date().isoformat()})  # fmt: skip
    return RecordImportedTenderRelease(
        command_id=f"cmd-{rid}",
        tender_id=ocid,
        ocid=ocid,
        release_id=rid,
        release_date=at,
        publisher="TenderNed",
        facts=[fact],
        occurred_at=at,
    )


async def test_a_process_in_one_message_is_recorded_release_by_release_up_to_a_refused_one(
    store: InMemoryEventStore, bus: InProcessBus
) -> None:
    ocid = "ocds-gtnl99-batch"
    # The second release plans the tender again: its fold refuses; the third is not attempted.
    releases = [ImportedRelease(release_id=r, tender=_planned(ocid, r, d))
                for r, d in (("r1", 6), ("r2", 7), ("r3", 8))]  # fmt: skip
    batch = ImportProcessReleases(command_id="batch-1", ocid=ocid, releases=releases)
    request = CommandRequest(command_type=batch.command_type,
                             command=batch.model_dump(mode="json"), actor="import:TenderNed")  # fmt: skip
    subject = REGISTRY.command_subject(batch.command_type)
    reply = ProcessReleasesImported.model_validate_json(
        await bus.request(subject, request.model_dump_json().encode())
    )
    assert [o.release_id for o in reply.releases] == ["r1", "r2"]
    first, second = reply.releases
    assert first.refused is None
    assert second.refused is not None
    assert second.refused.code == "IMPORT_NOT_APPLICABLE"
    events = [e.envelope for e in await stored(store)]
    # Each release's own command: its id, its valid time, the actor, caused by the batch.
    assert [(e.event_type, e.command_id) for e in events] == [
        ("TenderPlanned", "cmd-r1"), ("TenderReleaseImported", "cmd-r1")]  # fmt: skip
    assert {e.occurred_at for e in events} == {datetime(2020, 1, 6, 9, tzinfo=UTC)}
    assert {e.actor for e in events} == {"import:TenderNed"}
    assert {e.causation_id for e in events} == {"batch-1"}
    # Sent again: the recorded release is a duplicate, nothing is stored twice.
    again = ProcessReleasesImported.model_validate_json(
        await bus.request(subject, request.model_dump_json().encode())
    )
    assert all(isinstance(r, CommandAccepted) and r.duplicate for r in again.releases[0].replies)
    assert len(await stored(store)) == len(events)


LAW_FINDINGS = """query ($filter: LawFindingFilter, $first: Int, $after: String) {
  lawFindings(filter: $filter, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { code on tenderId contractId contractingAuthorityCode dated subject
            contract { contractId } tender { tenderId } }
  }
}"""


def _another(ocid: str, buyer: str, year: int) -> dict[str, Any]:
    """`_process(10, 6)` as another buyer's process of another year."""
    text = json.dumps(_process(10, 6)).replace("ocds-gtnl99-x1", ocid)
    return dict(json.loads(text.replace("NL-KVK-71830960", buyer).replace("2020-", f"{year}-")))


async def test_the_law_findings_of_every_import_are_one_paged_and_filtered_list(
    store: InMemoryEventStore, bus: InProcessBus, tmp_path: Path
) -> None:
    await run(store, bus, json.dumps(_process(10, 6)).encode())  # buyer 71830960, 2020
    await run(store, bus, json.dumps(_another("ocds-gtnl99-x2", "NL-KVK-50000000", 2021)).encode())
    await run(store, bus, json.dumps(_process(25, 4)).replace("x1", "x3").encode())  # lawful
    g = await start_memory_gateway(store, f"sqlite:///{tmp_path / 'read.db'}", commands=bus)
    try:
        for runner in g.runners:
            assert await runner.wait_until(await runner.stream_heads(), timeout=120)

        async def ask(token: str | None = None, **variables: Any) -> dict[str, Any]:
            body = await g.query(LAW_FINDINGS, variables, token=token)
            assert "errors" not in body, body
            return dict(body["data"]["lawFindings"])

        every = await ask()  # public, as Contract.lawFindings of a public contract is
        by_buyer = await ask(filter={"contractingAuthority": "KVK-50000000"})
        by_code = await ask(filter={"code": ["STANDSTILL_NOT_ENDED"], "on": "CONTRACT"})
        by_tender = await ask(filter={"tenderId": "ocds-gtnl99-x1"})
        in_2021 = await ask(filter={"dated": {"from": "2021-01-01", "to": "2021-12-31"}})
        on_tenders = await ask(filter={"on": "TENDER"})
        first = await ask(g.token("coordinator"), first=3)
        rest = await ask(g.token("coordinator"), first=3, after=first["pageInfo"]["endCursor"])
    finally:
        await g.stop()
    assert every["totalCount"] == 4  # two findings on each of two contracts; none on x3
    nodes = every["nodes"]
    assert [(n["contractId"], n["dated"]) for n in nodes][::2] == [
        ("ocds-gtnl99-x1-c1", "2020-03-12"), ("ocds-gtnl99-x2-c1", "2021-03-12")]  # fmt: skip
    assert all(n["on"] == "CONTRACT" and n["contract"]["contractId"] == n["contractId"]
               and n["tender"]["tenderId"] == n["tenderId"] for n in nodes)  # fmt: skip
    assert {n["contractingAuthorityCode"] for n in by_buyer["nodes"]} == {"KVK-50000000"}
    assert by_buyer["totalCount"] == 2
    assert [n["contractId"] for n in by_code["nodes"]] == ["ocds-gtnl99-x1-c1", "ocds-gtnl99-x2-c1"]
    assert {n["tenderId"] for n in by_tender["nodes"]} == {"ocds-gtnl99-x1"}
    assert {n["contractId"] for n in in_2021["nodes"]} == {"ocds-gtnl99-x2-c1"}
    assert on_tenders == {"totalCount": 0, "pageInfo": {"hasNextPage": False, "endCursor": None},
                          "nodes": []}  # fmt: skip
    assert first["pageInfo"]["hasNextPage"] is True
    assert rest["pageInfo"]["hasNextPage"] is False
    assert first["nodes"] + rest["nodes"] == nodes


async def test_a_batch_whose_releases_belong_to_another_process_is_refused_whole(
    store: InMemoryEventStore, bus: InProcessBus
) -> None:
    ocid = "ocds-gtnl99-batch"
    releases = [ImportedRelease(release_id="r1", tender=_planned(ocid, "r1", 6)),
                ImportedRelease(release_id="r2", tender=_planned("ocds-gtnl99-other", "r2", 7))]  # fmt: skip
    command = {
        "command_id": "batch-2",
        "ocid": ocid,
        "releases": [r.model_dump(mode="json") for r in releases],
    }
    request = CommandRequest(command_type="ImportProcessReleases", command=command,
                             actor="import:TenderNed")  # fmt: skip
    subject = REGISTRY.command_subject("ImportProcessReleases")
    reply = json.loads(await bus.request(subject, request.model_dump_json().encode()))
    assert reply["status"] == "rejected"
    assert reply["code"] == "INVALID_COMMAND"
    assert "releases[1]" in reply["message"]
    assert "ocds-gtnl99-other" in reply["message"]
    assert await stored(store) == []
