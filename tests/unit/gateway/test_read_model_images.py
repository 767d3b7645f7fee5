"""The gateway's read models as pure functions: typed events in, row versions out.

No NATS and no database: the registry's fold and the read model's image on a Timeline.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from contracts_schema.registry.events import (
    TenderPaused,
    TenderPlanned,
    TenderPublished,
    TenderResumed,
)
from contracts_schema.registry.values import Lot
from eventstore.bitemporal_sql import micros
from eventstore.timeline import FOREVER, Changes, Recorded, Timeline
from gateway.projections import ALL
from gateway.projections.tenders import TendersProjection

VNG = "KVK-40409352"


def at(day: date) -> int:
    return micros(datetime(day.year, day.month, day.day, 12, tzinfo=UTC))


def tender_timeline() -> Timeline[object, object]:
    reading = TendersProjection().readings()["tender"]
    return Timeline(reading.initial("t1"), reading.evolve, reading.image)  # type: ignore[arg-type]


def test_a_resumed_tender_row_goes_back_to_published_and_keeps_its_history() -> None:
    timeline = tender_timeline()
    events = [
        TenderPlanned(
            tender_id="t1",
            title="Vaste telefonie",
            contracting_authority=VNG,
            procedure="open",
            framework=True,
            lots=[Lot(lot_id="a", title="A")],
            planned_on=date(2015, 1, 15),
        ),
        TenderPublished(
            tender_id="t1",
            published_on=date(2015, 6, 15),
            notice_reference="TN-1",
            participant_list_frozen_on=date(2015, 5, 31),
        ),
        TenderPaused(tender_id="t1", paused_on=date(2015, 7, 1), reason="kort geding"),
        TenderResumed(tender_id="t1", resumed_on=date(2015, 7, 10)),
    ]
    days = [date(2015, 1, 15), date(2015, 6, 15), date(2015, 7, 1), date(2015, 7, 10)]
    inserted = []
    for version, (event, day) in enumerate(zip(events, days, strict=True), start=1):
        changes = Changes()
        timeline.record(Recorded(event, at(day), at(day), version), changes)
        inserted += changes.inserts
    tenders = [v for v in inserted if v.key[0] == "tenders"]
    open_rows = [v for v in tenders if v.valid_to == FOREVER]
    assert open_rows[-1].row["phase"] == "published"
    phases = [(v.row["phase"], v.valid_from) for v in tenders if v.valid_to != FOREVER]
    assert ("paused", at(date(2015, 7, 1))) in phases
    # the lot did not change after planning: one version, never closed
    assert [v.key for v in inserted if v.key[0] == "lots"] == [("lots", ("t1", "a"))]


def test_every_gateway_read_model_declares_every_event_type_of_its_contexts() -> None:
    for kind in ALL:
        assert kind().undeclared() == set(), kind.name
