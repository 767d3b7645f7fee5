"""Imported procedures are first-class: an imported contract gets its expiry warnings, to
its buyer, like any contract; GraphQL's as-of views (`asOf` valid date, `knownAt`
transaction time) show it as it was on each day, dated by its releases, and known from the
moment it was imported. Through the public interfaces: the import function, the notifier's
ticker, GraphQL."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from audit.ocds.importer import import_items
from audit.ocds.importer_read import read
from bootstrap.parts import command_service, projection_runner
from eventstore.clock import FixedClock
from eventstore.memory import InMemoryEventStore
from notifier.db import notifier_engine
from notifier.domain.schedule import ExpiryPolicy
from notifier.projection import NotifierSchedule
from notifier.routes import INTERNAL_COMMANDS
from notifier.ticker import ExpiryTicker
from tests.integration.gateway.harness import start_memory_gateway
from tests.service.bus import InProcessBus

OCID = "ocds-gtnl99-am1"
CONTRACT = f"{OCID}-c1"
AMSTERDAM = {"id": "GM0363", "name": "Gemeente Amsterdam"}
KPN = {"id": "NL-KVK-27124701", "name": "KPN B.V."}


def published() -> bytes:
    """Amsterdam's process as published: tender, award, contract until 2025-12-31, and an
    amendment released on 2021-06-01 that extends it to 2026-12-31."""
    parties = [{**AMSTERDAM, "roles": ["buyer"]}, {**KPN, "roles": ["supplier"]}]
    base = {"ocid": OCID, "initiationType": "tender", "buyer": AMSTERDAM, "parties": parties,
            "tender": {"id": "t", "title": "Telefonie Amsterdam", "status": "active",
                       "procurementMethod": "open",
                       "tenderPeriod": {"startDate": "2020-01-06T09:00:00Z"}}}  # fmt: skip
    award = {"id": "a1", "status": "active", "date": "2020-02-03T09:00:00Z",
             "suppliers": [{"id": KPN["id"], "name": KPN["name"]}]}  # fmt: skip
    contract = {"id": "c1", "awardID": "a1", "status": "active",
                "dateSigned": "2020-03-02T09:00:00Z",
                "period": {"startDate": "2020-04-01T00:00:00Z", "endDate": "2025-12-31T00:00:00Z"},
                "value": {"amount": 250000, "currency": "EUR"}}  # fmt: skip
    amended = {**contract, "period": {**contract["period"], "endDate": "2026-12-31T00:00:00Z"}}
    releases = [
        {**base, "id": "r1", "date": "2020-01-06T09:00:00Z", "tag": ["tender"]},
        {**base, "id": "r2", "date": "2020-03-02T09:00:00Z", "tag": ["award", "contract"],
         "awards": [award], "contracts": [contract]},
        {**base, "id": "r3", "date": "2021-06-01T09:00:00Z", "tag": ["contractAmendment"],
         "awards": [award], "contracts": [amended]},
    ]  # fmt: skip
    package = {"version": "1.1", "publisher": {"name": "TenderNed"}, "releases": releases}
    return json.dumps(package).encode()


async def imported(store: InMemoryEventStore, bus: InProcessBus) -> None:
    report = await import_items(read(published(), "TenderNed"), bus.request, store)
    assert (report.imported, report.skipped) == (3, [])


async def test_an_imported_contract_warns_its_buyer_before_it_expires(
    store: InMemoryEventStore, bus: InProcessBus, clock: FixedClock, tmp_path: Path
) -> None:
    await imported(store, bus)
    engine = notifier_engine(f"sqlite:///{tmp_path / 'notifier.db'}")
    projection = NotifierSchedule()
    runner = projection_runner(store, engine, projection)
    await runner.start()
    try:
        internal = command_service(INTERNAL_COMMANDS, store, clock)
        ticker = ExpiryTicker(internal, store, engine, projection, runner, ExpiryPolicy())  # type: ignore[arg-type]
        # The imported amendment moved the end to 2026-12-31: 24 months before is the first.
        result = await ticker.tick(date(2024, 12, 31))
    finally:
        await runner.stop()
        engine.dispose()
    mine = [w for w in result.raised if w.contract_id == CONTRACT]
    assert [(w.stage, w.target_date, w.recipients) for w in mine] == [
        ("24m", date(2026, 12, 31), ("GM0363",))
    ]


AS_OF = """query ($c: String!, $t: String!, $asOf: Date, $knownAt: DateTime) {
  contract(contractId: $c, asOf: $asOf, knownAt: $knownAt) { endDate status valueEur }
  tender(tenderId: $t, asOf: $asOf, knownAt: $knownAt) { phase publishedOn }
}"""


async def test_as_of_views_show_an_imported_process_as_it_was_and_as_it_was_known(
    store: InMemoryEventStore, bus: InProcessBus, clock: FixedClock, tmp_path: Path
) -> None:
    await imported(store, bus)  # at the fixed clock's now: 2026-01-15 12:00 UTC
    g = await start_memory_gateway(store, f"sqlite:///{tmp_path / 'read.db'}", commands=bus)
    try:
        for runner in g.runners:
            assert await runner.wait_until(await runner.stream_heads(), timeout=120)

        async def at(**horizon: str) -> dict[str, Any]:
            variables = {"c": CONTRACT, "t": OCID, **horizon}
            body = await g.query(AS_OF, variables, token=g.token("coordinator"))
            assert "errors" not in body, body
            return dict(body["data"])

        before_signing = await at(asOf="2020-02-01")
        signed = await at(asOf="2020-12-31")
        amended = await at(asOf="2021-06-02")
        unknown_yet = await at(asOf="2021-06-02", knownAt="2026-01-15T11:59:00Z")
        known = await at(asOf="2021-06-02", knownAt="2026-01-15T12:00:00Z")
    finally:
        await g.stop()
    assert before_signing["contract"] is None
    assert before_signing["tender"]["publishedOn"] == "2020-01-06"
    assert signed["contract"] == {
        "endDate": "2025-12-31",
        "status": "ACTIVE",
        "valueEur": "250000.00",
    }
    assert amended["contract"]["endDate"] == "2026-12-31"
    # Valid time is the release date; transaction time the import: before it, nothing known.
    assert unknown_yet == {"contract": None, "tender": None}
    assert known == amended
