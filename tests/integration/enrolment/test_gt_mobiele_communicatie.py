"""GT Mobiele Communicatie 1 and 2, with the registry and enrolment services on real NATS.

Municipalities enrol, the window is extended once and closes; the registry publishes the
tender against the frozen list, awards the framework to KPN, Tele2, T-Mobile and Vodafone;
Amsterdam holds a mini-competition and calls off from Vodafone; Groningen, too late for
round one, is refused under art. 33(2) and enrols in the second round.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import pytest
from nats.aio.client import Client as NATS

from bootstrap.serve import registry_app as build_registry
from contracts_schema.enrolment.commands import (
    AwardCallOff,
    CloseEnrolmentWindow,
    EnrolParticipant,
    ExtendEnrolmentWindow,
    LoadMunicipalities,
    OpenEnrolmentWindow,
    RegisterOrganisation,
    StartMiniCompetition,
)
from contracts_schema.registry import commands as registry
from contracts_schema.registry.values import ContractSupplier, Lot
from contracts_schema.subjects import ENROLMENT, REGISTRY
from eventstore.clock import FixedClock
from eventstore.observability import ObservabilitySettings
from eventstore.settings import NatsSettings
from eventstore.store import EventStore
from eventstore.testing.nats_server import NatsServer
from tests.integration.enrolment.support import accepted, enrolment_service, rejected

KING = "KVK-27367698"
SUPPLIERS = {
    "KVK-02045200": "KPN B.V.",
    "KVK-33272606": "Tele2 Nederland B.V.",
    "KVK-14052264": "T-Mobile Netherlands B.V.",
    "KVK-14052240": "Vodafone Libertel B.V.",
}
VODAFONE = "KVK-14052240"
AMSTERDAM, GRONINGEN = "GM0363", "GM0014"
BATCH = ["GM0363", "GM0599", "GM0518", "GM0344", "GM0772", "GM0160", "GM0175", "GM0193"]
MC1, MC2, FRAMEWORK = "gt-mc1", "gt-mc2", "gt-mc1-framework"


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 10, tzinfo=UTC)


@pytest.fixture
async def services(
    nats_server: NatsServer, sqlite_url: str, fixed_clock: FixedClock
) -> AsyncIterator[None]:
    app, _ = build_registry(
        NatsSettings(nats_url=nats_server.url), fixed_clock, ObservabilitySettings(metrics_port=-1)
    )
    await app.start()
    try:
        async with enrolment_service(nats_server.url, sqlite_url, fixed_clock):
            yield
    finally:
        await app.stop()


def enrol(tender: str, code: str, on: date, suffix: str = "") -> EnrolParticipant:
    return EnrolParticipant(
        command_id=f"{tender}-enrol-{code}{suffix}",
        tender_id=tender,
        organisation_code=code,
        lot_ids=["mobile"],
        power_of_attorney_ref=f"GT-volmacht-{code}",
        enrolled_on=on,
    )


async def plan(nc: NATS, tender: str, title: str, on: date) -> None:
    # The programme first (PROGRAMME_NOT_FOUND otherwise); the second round's is a duplicate.
    await accepted(
        nc,
        registry.PlanProgramme(
            command_id="gt-programme",
            programme_id="GT",
            name="Gemeentelijke Telecommunicatie",
            coordinator=KING,
            occurred_at=at(date(2015, 1, 5)),
        ),
    )
    await accepted(
        nc,
        registry.PlanTender(
            command_id=f"{tender}-plan",
            tender_id=tender,
            programme_id="GT",
            title=title,
            contracting_authority=KING,
            procedure="open",
            framework=True,
            lots=[Lot(lot_id="mobile", title="Mobiele communicatie")],
            occurred_at=at(on),
        ),
    )


async def award_framework(nc: NATS) -> None:
    """The registry's side: publication against the frozen list, award, signature."""
    published = await accepted(
        nc,
        registry.PublishTender(
            command_id="mc1-publish",
            tender_id=MC1,
            notice_reference="TenderNed 2015-077123",
            occurred_at=at(date(2015, 6, 15)),
        ),
    )
    assert published.events[0].event_type == "TenderPublished"
    lot = {"tender_id": MC1, "lot_id": "mobile"}
    await accepted(
        nc,
        registry.RecordBids(
            command_id="mc1-bids",
            bid_count=4,
            bidder_ids=list(SUPPLIERS),
            **lot,
            occurred_at=at(date(2015, 8, 20)),
        ),
    )
    await accepted(
        nc,
        registry.DecideProvisionalAward(
            command_id="mc1-award",
            supplier_ids=list(SUPPLIERS),
            **lot,
            occurred_at=at(date(2015, 10, 1)),
        ),
    )
    await accepted(
        nc,
        registry.RecordStandstillEnded(
            command_id="mc1-ss", **lot, occurred_at=at(date(2015, 10, 23))
        ),
    )
    await accepted(
        nc,
        registry.MakeAwardDefinitive(
            command_id="mc1-final", **lot, occurred_at=at(date(2015, 10, 26))
        ),
    )
    await accepted(
        nc,
        registry.SignContract(
            command_id="mc1-sign",
            contract_id=FRAMEWORK,
            kind="framework",
            tender_id=MC1,
            lot_ids=["mobile"],
            contracting_authority=KING,
            suppliers=[
                ContractSupplier(supplier_id=s, name=n, lot_ids=["mobile"])
                for s, n in SUPPLIERS.items()
            ],
            start_date=date(2016, 1, 15),
            end_date=date(2019, 1, 14),
            max_extent_date=date(2020, 1, 14),
            occurred_at=at(date(2015, 11, 2)),
        ),
    )


def call_off(call_off_id: str, **changes: object) -> AwardCallOff:
    fields: dict[str, object] = {
        "command_id": call_off_id,
        "call_off_id": call_off_id,
        "framework_contract_id": FRAMEWORK,
        "lot_id": "mobile",
        "participant_code": AMSTERDAM,
        "supplier_id": VODAFONE,
        "procedure": "direct",
        "awarded_on": date(2016, 2, 15),
        "start_date": date(2016, 3, 1),
        "end_date": date(2020, 2, 29),
    }
    return AwardCallOff.model_validate({**fields, **changes})


async def test_gt_mobiele_communicatie_rounds_one_and_two(
    services: None, nats_client: NATS, event_store: EventStore
) -> None:
    nc = nats_client
    await accepted(nc, LoadMunicipalities(command_id="cbs-2025"))
    king = RegisterOrganisation(command_id="reg-king", code=KING, name="KING", kind="association")
    await accepted(nc, king)
    for supplier, name in SUPPLIERS.items():
        await accepted(
            nc,
            RegisterOrganisation(
                command_id=f"reg-{supplier}", code=supplier, name=name, kind="supplier"
            ),
        )
    await plan(nc, MC1, "GT Mobiele Communicatie 1", date(2015, 1, 15))
    await accepted(
        nc,
        OpenEnrolmentWindow(
            command_id="mc1-open",
            tender_id=MC1,
            lot_ids=["mobile"],
            opens_on=date(2015, 2, 1),
            closes_on=date(2015, 5, 15),
        ),
    )
    # A batch of municipalities enrols at once.
    await asyncio.gather(*(accepted(nc, enrol(MC1, code, date(2015, 4, 1))) for code in BATCH[:-1]))
    # One is late for the first deadline; the coordinator extends the window once.
    late_for_deadline = await rejected(nc, enrol(MC1, BATCH[-1], date(2015, 5, 20)))
    assert late_for_deadline.code == "ENROLMENT_DEADLINE_PASSED"
    await accepted(
        nc,
        ExtendEnrolmentWindow(command_id="mc1-extend", tender_id=MC1, closes_on=date(2015, 5, 29)),
    )
    await accepted(nc, enrol(MC1, BATCH[-1], date(2015, 5, 20), "-after-extension"))

    # Publication before the freeze is refused by the registry.
    early = await rejected(
        nc,
        registry.PublishTender(
            command_id="mc1-early",
            tender_id=MC1,
            notice_reference="x",
            occurred_at=at(date(2015, 5, 20)),
        ),
    )
    assert early.code == "PARTICIPANT_LIST_NOT_FROZEN"
    closed = await accepted(
        nc, CloseEnrolmentWindow(command_id="mc1-close", tender_id=MC1, frozen_on=date(2015, 5, 31))
    )
    assert [e.event_type for e in closed.events] == ["ParticipantListFrozen"]
    window = await event_store.load(ENROLMENT, "enrolment_window", MC1)
    frozen = window.events[-1].envelope.payload
    assert sorted(p["organisation_code"] for p in frozen["participants"]) == sorted(BATCH)

    # Groningen missed it: refused under the EU rule, with the freeze date.
    late = await rejected(nc, enrol(MC1, GRONINGEN, date(2015, 6, 2)))
    assert late.code == "ENROLMENT_CLOSED"
    assert "Directive 2014/24/EU art. 33(2)" in late.message
    assert "frozen on 2015-05-31" in late.message

    await award_framework(nc)

    # Amsterdam holds a mini-competition among the lot's four suppliers and picks Vodafone.
    await accepted(
        nc,
        StartMiniCompetition(
            command_id="ams-mc",
            call_off_id="ams-mobile",
            framework_contract_id=FRAMEWORK,
            lot_id="mobile",
            participant_code=AMSTERDAM,
            invited_supplier_ids=list(SUPPLIERS),
            started_on=date(2016, 1, 20),
        ),
    )
    awarded = await accepted(
        nc, call_off("ams-mobile", procedure="mini_competition", value_eur=2_400_000)
    )
    assert [e.event_type for e in awarded.events] == ["CallOffAwarded"]
    record = (
        (await event_store.load(ENROLMENT, "call_off", "ams-mobile")).events[-1].envelope.payload
    )
    assert (record["supplier_id"], record["tender_id"], record["end_date"]) == (
        VODAFONE,
        MC1,
        "2020-02-29",
    )

    # Call-offs that break the framework's rules, each with its own error.
    outsider = await rejected(nc, call_off("gro-mobile", participant_code=GRONINGEN))
    assert outsider.code == "NOT_A_PARTICIPANT"
    unknown = await rejected(nc, call_off("ams-upc", supplier_id="KVK-33292246"))
    assert unknown.code == "ORGANISATION_UNKNOWN"  # never registered at all
    upc = RegisterOrganisation(
        command_id="reg-upc", code="KVK-33292246", name="UPC", kind="supplier"
    )
    await accepted(nc, upc)
    stranger = await rejected(nc, call_off("ams-upc-2", supplier_id="KVK-33292246"))
    assert stranger.code == "SUPPLIER_NOT_ON_FRAMEWORK_LOT"
    too_late = await rejected(
        nc, call_off("ams-2019", awarded_on=date(2019, 3, 1), start_date=date(2019, 3, 1))
    )
    assert too_late.code == "FRAMEWORK_ENDED"
    assert "2019-01-14" in too_late.message

    # Round two: its own window, linked to round one.
    await plan(nc, MC2, "GT Mobiele Communicatie 2", date(2015, 8, 1))
    await accepted(
        nc,
        OpenEnrolmentWindow(
            command_id="mc2-open",
            tender_id=MC2,
            lot_ids=["mobile"],
            opens_on=date(2015, 9, 1),
            closes_on=date(2015, 10, 15),
            previous_round_tender_id=MC1,
        ),
    )
    again = await rejected(nc, enrol(MC2, AMSTERDAM, date(2015, 9, 10)))
    assert again.code == "ALREADY_PARTICIPANT_IN_PREVIOUS_ROUND"
    await accepted(nc, enrol(MC2, GRONINGEN, date(2015, 9, 10)))
    round_two = await accepted(
        nc,
        CloseEnrolmentWindow(command_id="mc2-close", tender_id=MC2, frozen_on=date(2015, 10, 16)),
    )
    assert round_two.events[0].event_type == "ParticipantListFrozen"
    mc2 = await event_store.load(ENROLMENT, "enrolment_window", MC2)
    assert mc2.events[-1].envelope.payload["participants"] == [
        {"organisation_code": GRONINGEN, "lot_ids": ["mobile"]}
    ]
    assert (await event_store.load(REGISTRY, "tender", MC1)).events[
        -1
    ].envelope.event_type == "AwardMadeDefinitive"
