"""An imported contract or tender with law findings reads in the audit's history.

The folds keep their findings as `LawFinding` values (pydantic models), which the audit's JSON
form of a state (`audit.jsonstate.to_json`) did not know: `history(aggregate:)` answered
"Unexpected error.", `audit replay contract/<id>` ended in a traceback ("no JSON form for
LawFinding") and the audit's history read model parked the import's provenance event, so
`entitiesAsOf` lost the aggregate and `health.ok` stayed false (correct20, seen on a
`make run` after `audit ocds import` of a release signed inside its standstill).
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from sqlalchemy import MetaData, select

from audit.ocds.importer import import_items
from audit.ocds.importer_read import read
from audit.temporal import TemporalProjection
from contracts_schema.subjects import REGISTRY
from eventstore.memory import InMemoryEventStore
from eventstore.sql import make_engine
from gateway.app import build_app
from gateway.history.sources import audit_sources
from tests.integration.gateway.harness import start_memory_gateway
from tests.service.bus import InProcessBus
from tests.service.test_ocds_import import _process

CONTRACT, TENDER = "ocds-gtnl99-x1-c1", "ocds-gtnl99-x1"
QUERY = f"""{{
  contract: history(aggregate: "contract/{CONTRACT}") {{ exists state }}
  tender: history(aggregate: "tender/{TENDER}") {{ exists state }}
}}"""
FOUND = {"STANDSTILL_NOT_ENDED", "FRAMEWORK_RATIONALE_REQUIRED"}


async def imported(store: InMemoryEventStore, bus: InProcessBus) -> None:
    # Signed 10 days after the award decision (standstill: 20), a 6-year framework.
    data = json.dumps(_process(10, 6)).encode()
    report = await import_items(read(data, "portal"), bus.request, store)
    assert not report.skipped, report.skipped


async def test_history_of_an_imported_contract_with_findings_shows_them(
    store: InMemoryEventStore, bus: InProcessBus, tmp_path: Path
) -> None:
    await imported(store, bus)
    g = await start_memory_gateway(store, f"sqlite:///{tmp_path / 'rm.db'}")
    assert g.read is not None
    assert g.client is not None
    await g.client.aclose()
    app = build_app(g.read, g.settings, audit=audit_sources(store, g.engine))  # type: ignore[arg-type]
    g.client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
    )
    try:
        body = await g.query(QUERY, token=g.token("auditor"))
    finally:
        await g.stop()
    assert "errors" not in body, body
    contract = body["data"]["contract"]
    assert contract["exists"] is True
    findings = contract["state"]["law_findings"]
    assert {f["code"] for f in findings} == FOUND
    standstill = next(f for f in findings if f["code"] == "STANDSTILL_NOT_ENDED")
    assert "standstill" in standstill["message"]
    assert set(standstill) == {"code", "message", "subject"}
    assert body["data"]["tender"]["exists"] is True
    assert isinstance(body["data"]["tender"]["state"]["law_findings"], list)


async def test_the_audits_history_model_keeps_an_imported_contract_with_findings(
    store: InMemoryEventStore, bus: InProcessBus, tmp_path: Path
) -> None:
    await imported(store, bus)
    engine = make_engine(f"sqlite:///{tmp_path / 'audit.db'}")
    projection = TemporalProjection()
    metadata = MetaData()
    projection.define(metadata)
    metadata.create_all(engine)
    events = (await store.load(REGISTRY, "contract", CONTRACT)).events
    assert events[-1].envelope.event_type == "ContractReleaseImported"
    with engine.begin() as conn:
        for event in events:
            projection.apply(conn, event)  # raised TypeError: the reader parked it
    v = projection.versions.c
    with engine.connect() as conn:
        states = conn.execute(select(v.state).where(v.aggregate_id == CONTRACT)).scalars().all()
    last = [json.loads(s) if isinstance(s, str) else s for s in states]
    assert any({f["code"] for f in s.get("law_findings", [])} == FOUND for s in last), last
