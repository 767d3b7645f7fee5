"""The readers of an imported contract restated by a later release (import25's
`ContractRestated`; review18a finding 6): the notifier's schedule drops a maximum extent no
longer stated (no expiry warning for it), enrolment's registry facts take the restated start
and the cleared extent (a call-off's rules run on them), each as the contract fold does."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import select

from audit.ocds.importer import import_items
from audit.ocds.importer_read import read
from bootstrap.parts import projection_runner
from enrolment.registry_facts import RegistryFacts
from eventstore.memory import InMemoryEventStore
from eventstore.projection import Projection
from eventstore.sql import make_engine
from notifier.projection import NotifierSchedule
from tests.service.bus import InProcessBus
from tests.service.test_ocds_contract_restated import _restating
from tests.service.test_ocds_restated import _package

RESTATING = {"startDate": "2024-08-01T00:00:00Z", "maxExtentDate": None}


async def _row(store: InMemoryEventStore, model: Projection, path: Path) -> tuple[object, ...]:
    engine = make_engine(f"sqlite:///{path}")
    runner = projection_runner(store, engine, model)
    await runner.start()
    try:
        assert await runner.wait_until(await runner.stream_heads(), timeout=120)
        with engine.connect() as conn:
            [row] = conn.execute(select(model.contracts)).all()  # type: ignore[attr-defined]
    finally:
        await runner.stop()
        engine.dispose()
    return tuple(row._mapping.items())


async def test_the_readers_follow_a_restated_start_and_a_cleared_extent(
    store: InMemoryEventStore, bus: InProcessBus, tmp_path: Path
) -> None:
    """Signed with a start on 2024-07-01 and an extent to 2028-06-30, restated (r4, the 15th
    of April) to start on 2024-08-01 without an extent."""
    report = await import_items(read(_package(*_restating(**RESTATING)), "test"), bus.request,
                                store)  # fmt: skip
    assert (report.imported, report.skipped) == (4, [])
    notifier = dict(await _row(store, NotifierSchedule(), tmp_path / "notifier.db"))
    enrolment = dict(await _row(store, RegistryFacts(), tmp_path / "enrolment.db"))
    # The notifier's convention: no extent, no day it became known (as a signing without one).
    assert (notifier["max_extent_date"], notifier["max_known_since"]) == (None, None)
    assert notifier["end_date"] == date(2026, 6, 30)
    assert (enrolment["start_date"], enrolment["max_extent_date"]) == (date(2024, 8, 1), None)
    assert enrolment["end_date"] == date(2026, 6, 30)
