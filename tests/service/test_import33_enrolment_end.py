"""Enrolment's registry facts follow an imported framework's end as the contract fold does
(import33): an end first stated by a later release is the framework's end, one no longer
stated (null, or 9999-12-31) the registry's last day -- the framework runs on, so a call-off
under it is not refused as "after its end" by the last end stated. Before, the row kept the
end last stated (a ContractRestated's end was not read)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bootstrap.parts import projection_runner
from contracts_schema.folds import FOLDS
from enrolment.registry_facts import RegistryFacts
from eventstore.sql import make_engine
from tests.service.test_ocds_contract_end_unstated import CID, _contract, _signed_with
from tests.service.test_ocds_contract_restated import _registry_events
from tests.service.test_ocds_restated import AWARDS, TENDER, _package, _release


async def _end(releases: list[dict[str, Any]], path: Path) -> tuple[date, date | None]:
    """(enrolment's row's end, the contract fold's)."""
    events, (store, _bus) = await _registry_events(_package(*releases))
    mine = [e for e in events if getattr(e, "contract_id", None) == CID]
    folded = FOLDS["registry", "contract"].replay(CID, mine).end_date
    engine = make_engine(f"sqlite:///{path}")
    model = RegistryFacts()
    runner = projection_runner(store, engine, model)
    await runner.start()
    try:
        assert await runner.wait_until(await runner.stream_heads(), timeout=120)
        with engine.connect() as conn:
            c = model.contracts
            row = conn.execute(select(c.c.end_date).where(c.c.contract_id == CID)).one()
    finally:
        await runner.stop()
        engine.dispose()
    return row.end_date, folded


async def test_enrolment_registry_facts_follow_an_end_stated_and_cleared(tmp_path: Path) -> None:
    releases = [
        *_signed_with(_contract(endDate=...)),
        _release(4, "contractUpdate", tender=TENDER, awards=AWARDS,
                 contracts=[_contract(endDate="2027-06-30T00:00:00Z")]),
        _release(5, "contractUpdate", tender=TENDER, awards=AWARDS,
                 contracts=[_contract(endDate="9999-12-31T23:59:59Z")]),
    ]  # fmt: skip
    seen = [await _end(releases[:n], tmp_path / f"{n}.db") for n in (3, 4, 5)]
    assert [row for row, _ in seen] == [date(2100, 12, 31), date(2027, 6, 30), date(2100, 12, 31)]
    assert [row for row, _ in seen] == [folded for _, folded in seen]
