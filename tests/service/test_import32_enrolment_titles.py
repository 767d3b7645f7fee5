"""Enrolment's registry facts keep whether an imported tender's and each lot's title is
stated (import32), as the tender fold does (import30): a title the source does not state is
recorded as the registry's default (the ocid; a lot's id), and a reader of these tables must
not take it for a published title. Before, the tables held the default alone, no mark."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from bootstrap.parts import projection_runner
from contracts_schema.folds import FOLDS
from enrolment.registry_facts import RegistryFacts
from eventstore.sql import make_engine
from tests.service.test_ocds_contract_restated import _registry_events
from tests.service.test_ocds_restated import OCID, TENDER, _package, _release
from tests.service.test_ocds_untitled import TID, _restating, _tender, _tender_events


async def _rows(releases: list[dict[str, Any]], path: Path) -> tuple[Any, Any, Any]:
    """(the tender's (title, stated), its lots' (id, title, stated), the fold's the same)."""
    events, (store, _bus) = await _registry_events(_package(*releases))
    state = FOLDS["registry", "tender"].replay(TID, _tender_events(events))
    folded = ((state.title, state.title_stated),
              sorted((lot.lot_id, lot.title, lot.title_stated) for lot in state.lots))  # fmt: skip
    engine = make_engine(f"sqlite:///{path}")
    model = RegistryFacts()
    runner = projection_runner(store, engine, model)
    await runner.start()
    try:
        assert await runner.wait_until(await runner.stream_heads(), timeout=120)
        with engine.connect() as conn:
            t, lots = model.tenders, model.tender_lots
            row = conn.execute(select(t.c.title, t.c.title_stated)).one()
            lot_rows = conn.execute(select(lots.c.lot_id, lots.c.title, lots.c.title_stated)).all()
    finally:
        await runner.stop()
        engine.dispose()
    return tuple(row), sorted(map(tuple, lot_rows)), folded


async def test_enrolment_registry_facts_keep_whether_titles_are_stated(tmp_path: Path) -> None:
    """Planned with neither the tender nor lot L1 titled (r1-r3), then (r4) the tender's
    title and L1's stated, then (r5) the tender's no longer stated (the title stays)."""
    releases = _restating(_tender(title=False, lots=(False, True)), _tender())
    releases.append(_release(5, "tenderUpdate", tender={**_tender(), "title": None}))
    seen = [await _rows(releases[:n], tmp_path / f"{n}.db") for n in (3, 4, 5)]
    assert [(tender, lots) for tender, lots, _ in seen] == [
        ((OCID, False), [("L1", "L1", False), ("L2", "Mobiel", True)]),
        ((TENDER["title"], True), [("L1", "Vast", True), ("L2", "Mobiel", True)]),
        ((TENDER["title"], False), [("L1", "Vast", True), ("L2", "Mobiel", True)]),
    ]
    assert [(tender, lots) for tender, lots, _ in seen] == [folded for _, _, folded in seen]
