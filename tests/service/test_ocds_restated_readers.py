"""Every reader of an imported tender restated by a later release (import20's
`TenderRestated`) sees what the tender fold sees (import22; issue 12's one truth, issue 17's
imported data first-class): enrolment's registry facts the restated publication day, title,
framework flag and lot titles; GraphQL the marks the fold keeps of what the source stated
(`procedureStated`, `publishedOnStated`) and the plan's start (`plannedTenderStart`), at
every `asOf`. The notifier's feed: tests/integration/notifier/test_restated_title.py."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select

from audit.ocds.importer import import_items
from audit.ocds.importer_read import read
from bootstrap.parts import projection_runner
from contracts_schema.registry import commands as cmd
from contracts_schema.registry.values import Lot
from enrolment.domain.enrolment_window import TenderFacts
from enrolment.facts import Facts
from enrolment.registry_facts import RegistryFacts
from eventstore.memory import InMemoryEventStore
from eventstore.sql import make_engine
from tests.integration.gateway.harness import start_memory_gateway
from tests.service.bus import InProcessBus
from tests.service.story import LNVT, on
from tests.service.test_ocds_restated import OCID, TENDER, _package, _release

# Published on 2024-03-01 (r1, the 15th of January), restated on the 15th of February (r2):
# another title, no framework, the first lot retitled, the tender period from 2024-03-08.
RESTATED = {**TENDER, "title": "Telefonie 2", "techniques": {"hasFrameworkAgreement": False},
            "lots": [{**TENDER["lots"][0], "title": "Vaste telefonie"}, TENDER["lots"][1]],
            "tenderPeriod": {"startDate": "2024-03-08T09:00:00Z"}}  # fmt: skip


async def test_enrolment_registry_facts_answer_as_the_fold_for_a_restated_tender(
    store: InMemoryEventStore, bus: InProcessBus, tmp_path: Path
) -> None:
    """Before: the read model ignored `TenderRestated`, so it kept 2024-03-01 as the
    publication day (read by the rule that a window opens before publication) where the
    command side's fold-based facts read 2024-03-08, and the first title and lot title."""
    releases = [_release(1, "tender", tender=TENDER), _release(2, "tenderUpdate", tender=RESTATED)]
    report = await import_items(read(_package(*releases), "test"), bus.request, store)
    assert (report.imported, report.skipped) == (2, [])
    engine = make_engine(f"sqlite:///{tmp_path / 'enrolment.db'}")
    model = RegistryFacts()
    runner = projection_runner(store, engine, model)
    await runner.start()
    try:
        assert await runner.wait_until(await runner.stream_heads(), timeout=120)
        with engine.connect() as conn:
            answer = model.tender(conn, OCID)
            row = conn.execute(select(model.tenders).where(model.tenders.c.tender_id == OCID)).one()
            t = model.tender_lots
            lots = conn.execute(select(t.c.lot_id, t.c.title).where(t.c.tender_id == OCID)).all()
    finally:
        await runner.stop()
        engine.dispose()
    expected = TenderFacts(OCID, frozenset({"L1", "L2"}), date(2024, 3, 8))
    assert answer == expected == await Facts(store).tender(OCID)
    assert (row.title, row.framework, row.published_on) == ("Telefonie 2", False, date(2024, 3, 8))
    assert sorted(map(tuple, lots)) == [("L1", "Vaste telefonie"), ("L2", "Mobiel")]


MARKS = """query ($t: String!, $asOf: Date) {
  tender(tenderId: $t, asOf: $asOf) {
    procedure procedureStated publishedOn publishedOnStated plannedTenderStart
  }
}"""


async def test_graphql_shows_what_the_source_stated_and_the_plans_start_at_every_horizon(
    store: InMemoryEventStore, bus: InProcessBus, tmp_path: Path
) -> None:
    """A plan without procedure starting 2024-06-03 (r1, 15 January), published stating the
    procedure and a tender period from 2024-03-01 (r2, 15 February), then a release that no
    longer states the start (r3, 15 March: the publication day kept for the rules, not
    stated; the plan's start forgotten, as the fold takes it); and a native tender, all
    stated, no plan start. Before: no such fields (the fold kept them, GraphQL did not)."""
    plan = {k: v for k, v in TENDER.items() if k != "procurementMethod"}
    plan = {**plan, "status": "planned", "tenderPeriod": {"startDate": "2024-06-03T00:00:00Z"}}
    cleared = {**TENDER, "tenderPeriod": {"startDate": None}}
    releases = [_release(1, "planning", tender=plan), _release(2, "tender", tender=TENDER),
                _release(3, "tenderAmendment", tender=cleared)]  # fmt: skip
    report = await import_items(read(_package(*releases), "test"), bus.request, store)
    assert (report.imported, report.skipped) == (3, [])
    await bus.accept(
        cmd.PlanTender(
            command_id="plan-own", tender_id="own", title="Eigen", contracting_authority=LNVT,
            procedure="open", framework=False, lots=[Lot(lot_id="a", title="A")],
            occurred_at=on(date(2024, 1, 10)),
        )
    )  # fmt: skip
    g = await start_memory_gateway(store, f"sqlite:///{tmp_path / 'read.db'}", commands=bus)
    try:
        for runner in g.runners:
            assert await runner.wait_until(await runner.stream_heads(), timeout=120)

        async def tender(tender_id: str, as_of: str) -> Any:
            variables = {"t": tender_id, "asOf": as_of}
            body = await g.query(MARKS, variables, token=g.token("coordinator"))
            assert "errors" not in body, body
            return body["data"]["tender"]

        seen = [await tender(OCID, day) for day in ("2024-01-20", "2024-02-20", "2024-03-20")]
        own = await tender("own", "2024-03-20")
    finally:
        await g.stop()
    assert seen == [
        {"procedure": "NATIONAL", "procedureStated": False, "publishedOn": None,
         "publishedOnStated": True, "plannedTenderStart": "2024-06-03"},
        {"procedure": "OPEN", "procedureStated": True, "publishedOn": "2024-03-01",
         "publishedOnStated": True, "plannedTenderStart": "2024-06-03"},
        {"procedure": "OPEN", "procedureStated": True, "publishedOn": "2024-03-01",
         "publishedOnStated": False, "plannedTenderStart": None},
    ]  # fmt: skip
    assert own == {"procedure": "OPEN", "procedureStated": True, "publishedOn": None,
                   "publishedOnStated": True, "plannedTenderStart": None}  # fmt: skip
