"""Enrolment dates are Dutch calendar days, as the registry's: the zone a client writes its
valid time in does not move a fact to another day."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from nats.aio.client import Client as NATS

from contracts_schema.enrolment.commands import (
    EnrolParticipant,
    LoadMunicipalities,
    OpenEnrolmentWindow,
)
from contracts_schema.registry.events import TenderPlanned
from contracts_schema.registry.values import Lot
from contracts_schema.subjects import ENROLMENT
from eventstore.store import EventStore
from tests.integration.enrolment.support import accepted, record_fact
from tests.integration.enrolment.test_call_offs import KING, TEXT, service

__all__ = ["service"]  # the enrolment service fixture, shared


@pytest.mark.parametrize(
    "written",
    ["2016-07-31T22:30:00+00:00", "2016-08-01T00:30:00+02:00"],  # one instant, two zones
)
async def test_an_enrolment_without_a_date_is_dated_on_the_dutch_day_it_happened(
    service: None, nats_client: NATS, event_store: EventStore, written: str
) -> None:
    nc = nats_client
    await record_fact(
        event_store,
        "gt-vast",
        TenderPlanned(
            tender_id="gt-vast",
            title="GT Vaste Communicatie",
            contracting_authority=KING,
            procedure="open",
            framework=True,
            lots=[Lot(lot_id="fixed", title="Vast")],
            planned_on=date(2016, 6, 1),
        ),
    )
    await accepted(nc, LoadMunicipalities(command_id="load", csv_text=TEXT))
    await accepted(
        nc,
        OpenEnrolmentWindow(
            command_id="open",
            tender_id="gt-vast",
            lot_ids=["fixed"],
            opens_on=date(2016, 7, 1),
            closes_on=date(2016, 9, 1),
        ),
    )
    await accepted(
        nc,
        EnrolParticipant(
            command_id="enrol",
            occurred_at=datetime.fromisoformat(written),
            tender_id="gt-vast",
            organisation_code="GM0363",
            lot_ids=["fixed"],
            power_of_attorney_ref="V-17",
        ),
    )
    history = await event_store.load(ENROLMENT, "enrolment_window", "gt-vast")
    [enrolled] = [
        e.envelope for e in history.events if e.envelope.event_type == "ParticipantEnrolled"
    ]
    assert enrolled.payload["enrolled_on"] == "2016-08-01"  # 00:30 in Amsterdam, not 31 July
