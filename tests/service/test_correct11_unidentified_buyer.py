"""An OCDS release whose buyer has a name and no `identifier` (as portals publish local
bodies) is imported, not refused whole: the buyer is found by its name among the release's
parties when one code is recorded for that name; else it is recorded under a code derived
from the name, with the finding CONTRACTING_AUTHORITY_UNIDENTIFIED. Before: the release was
skipped ("has no identifier the registry records"). Without a name it is still skipped."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from audit.ocds.importer import import_items
from audit.ocds.importer_read import read
from bootstrap.parts import enrolment_service, registry_service
from contracts_schema.registry.values import named_only_code
from contracts_schema.subjects import CONTEXTS, REGISTRY
from eventstore.clock import FixedClock
from eventstore.memory import InMemoryEventStore
from tests.service.bus import InProcessBus

BUYER = "Gemeente Zaanstad"


def package(buyer: dict[str, Any], parties: list[dict[str, Any]]) -> bytes:
    """Shaped like a national portal's release package: the buyer by a local id and its name
    only, the supplier with its KvK number."""
    release = {
        "ocid": "ocds-nl0000-224466",
        "id": "224466-1",
        "date": "2021-03-04T09:15:00Z",
        "tag": ["tender"],
        "initiationType": "tender",
        "language": "nl",
        "buyer": buyer,
        "parties": parties,
        "tender": {
            "id": "224466",
            "title": "Schoonmaakdiensten gemeentelijke gebouwen",
            "status": "active",
            "procurementMethod": "open",
            "procurementMethodDetails": "Openbaar",
            "mainProcurementCategory": "services",
            "tenderPeriod": {
                "startDate": "2021-03-04T00:00:00Z",
                "endDate": "2021-04-15T12:00:00Z",
            },
        },
    }
    return json.dumps({
        "uri": "https://portal.example/ocds/224466", "version": "1.1",
        "publishedDate": "2021-03-04T09:15:00Z", "publisher": {"name": "Portal"},
        "releases": [release],
    }).encode()  # fmt: skip


async def imported(data: bytes) -> tuple[Any, list[Any]]:
    clock = FixedClock(datetime(2026, 1, 15, 12, 0, tzinfo=UTC))
    store = InMemoryEventStore(clock)
    for context in CONTEXTS.values():
        await store.ensure_stream(context)
    services = [registry_service(store, clock), enrolment_service(store, clock)]
    for service in services:
        await service.start()
    report = await import_items(read(data, "portal"), InProcessBus(services).request, store)
    history = await store.load(REGISTRY, "tender", "ocds-nl0000-224466")
    return report, [e.envelope for e in history.events]


async def test_a_buyer_without_identifier_is_recorded_by_name_with_a_finding() -> None:
    party = {"id": "NL-TN-1234", "name": BUYER, "roles": ["buyer"],
             "address": {"locality": "Zaandam", "countryName": "Nederland"}}  # fmt: skip
    report, events = await imported(package({"id": "NL-TN-1234", "name": BUYER}, [party]))
    assert not report.skipped, report.skipped
    planned = next(e for e in events if e.event_type == "TenderPlanned")
    assert planned.payload["contracting_authority"] == named_only_code(BUYER)
    [provenance] = [e for e in events if e.event_type == "TenderReleaseImported"]
    [finding] = provenance.payload["findings"]
    assert finding["code"] == "CONTRACTING_AUTHORITY_UNIDENTIFIED", finding
    assert "published by name only" in finding["message"]


async def test_a_buyer_named_like_an_identified_party_is_that_party() -> None:
    parties = [
        {"id": "b", "name": BUYER, "roles": ["buyer"]},
        {"id": "pe", "name": f"  {BUYER.upper()} ", "roles": ["procuringEntity"],
         "identifier": {"scheme": "NL-KVK", "id": "12345678"}},
    ]  # fmt: skip
    report, events = await imported(package({"id": "b", "name": BUYER}, parties))
    assert not report.skipped, report.skipped
    planned = next(e for e in events if e.event_type == "TenderPlanned")
    assert planned.payload["contracting_authority"] == "KVK-12345678"
    [provenance] = [e for e in events if e.event_type == "TenderReleaseImported"]
    assert provenance.payload["findings"] == []


async def test_a_buyer_without_identifier_or_name_is_still_skipped() -> None:
    report, events = await imported(package({"id": "b"}, [{"id": "b", "roles": ["buyer"]}]))
    assert [p.path for p in report.skipped] == ["$.releases[0].buyer"], report.skipped
    assert events == []
