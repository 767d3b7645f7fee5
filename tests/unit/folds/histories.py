"""One plausible history per aggregate type that uses every event its fold handles."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from contracts_schema.base import DomainEvent
from contracts_schema.enrolment import events as en
from contracts_schema.money import Money
from contracts_schema.registry import events as ev
from contracts_schema.registry.import_events import LawFinding
from contracts_schema.registry.values import ContractSupplier, Lot
from tests.unit.registry.data import (
    KPN,
    LNVT,
    TELE2,
    THE_HAGUE,
    VNG,
    T,
    bids,
    definitive,
    planned,
    provisional,
    published,
)

C = "c-0800"
W = "gt-mc1"

PROGRAMME: tuple[DomainEvent, ...] = (
    ev.ProgrammePlanned(
        programme_id="OT2010",
        name="Overheidstelefonie 2010",
        coordinator="KVK-27351236",
        planned_on=date(2009, 6, 1),
        predecessor_programme_id="OT2006",
    ),
    ev.SuccessorProgrammeLinked(
        programme_id="OT2010", successor_programme_id="OT2017", linked_on=date(2016, 1, 1)
    ),
)

TENDER: tuple[DomainEvent, ...] = (
    planned("vast", "mobiel", "data"),
    ev.TenderPlanRevised(
        tender_id=T, tender_period_planned_on=date(2010, 2, 1), revised_on=date(2009, 9, 1)
    ),
    ev.PriorInformationNoticePublished(
        tender_id=T, published_on=date(2009, 10, 1), notice_reference="PIN-1"
    ),
    ev.MarketConsultationHeld(
        tender_id=T, started_on=date(2009, 11, 1), ended_on=date(2009, 11, 30), summary="lots"
    ),
    ev.TenderPaused(tender_id=T, paused_on=date(2010, 1, 5), reason="re-evaluation"),
    ev.TenderResumed(tender_id=T, resumed_on=date(2010, 1, 20)),
    published(),
    ev.TenderCorrected(tender_id=T, corrected_on=date(2010, 3, 5), summary="annex 2"),
    ev.TenderRestated(
        tender_id=T,
        restated_on=date(2010, 3, 6),
        title="Telefonie 2",
        lots=[Lot(lot_id="vast", title="Vaste telefonie")],
    ),
    ev.TenderClarified(tender_id=T, clarified_on=date(2010, 3, 10), summary="NvI 1"),
    bids("vast"),
    bids("mobiel"),
    provisional("vast"),
    ev.ProvisionalAwardRevised(
        tender_id=T,
        lot_id="vast",
        previous_supplier_ids=[KPN],
        supplier_ids=[TELE2],
        decision_sent_on=date(2010, 6, 10),
        standstill_ends_on=date(2010, 6, 30),
        reason="scoring error",
    ),
    ev.ReviewProceedingsStarted(
        tender_id=T,
        lot_id="vast",
        claimant_id=KPN,
        forum="Rb. Den Haag",
        started_on=date(2010, 6, 15),
    ),
    ev.ReviewProceedingsConcluded(
        tender_id=T, lot_id="vast", concluded_on=date(2010, 6, 28), outcome="award_upheld"
    ),
    ev.StandstillEnded(tender_id=T, lot_id="vast", ended_on=date(2010, 6, 30)),
    definitive("vast", TELE2),
    provisional("mobiel"),
    ev.ProvisionalAwardWithdrawn(
        tender_id=T, lot_id="mobiel", supplier_ids=[KPN], withdrawn_on=date(2010, 7, 1), reason="x"
    ),
    ev.LotCancelled(tender_id=T, lot_id="data", cancelled_on=date(2010, 7, 2), reason="no bids"),
    ev.SuccessorTenderLinked(tender_id=T, successor_tender_id="OT2017", linked_on=date(2016, 1, 1)),
    ev.TenderCancelled(
        tender_id=T, cancelled_on=date(2010, 8, 1), reason="budget", lot_ids=["mobiel"]
    ),
    ev.TenderReleaseImported(
        tender_id=T,
        ocid="ocds-213czf-ot2010",
        release_id="r-9",
        release_date=datetime(2010, 8, 2, tzinfo=UTC),
        publisher="TenderNed",
    ),
)

CONTRACT: tuple[DomainEvent, ...] = (
    ev.ContractSigned(
        contract_id=C,
        kind="framework",
        title="Vaste telefonie",
        tender_id=T,
        lot_ids=["vast"],
        contracting_authority=VNG,
        suppliers=[ContractSupplier(supplier_id=TELE2, name="Tele2", lot_ids=["vast"])],
        signed_on=date(2010, 7, 1),
        start_date=date(2010, 7, 1),
        end_date=date(2013, 6, 30),
        max_extent_date=date(2015, 6, 30),
        value=Money.euro(Decimal("1000000.10")),
    ),
    ev.ContractAmended(
        contract_id=C,
        amended_on=date(2011, 1, 1),
        summary="indexation",
        new_value=Money.euro(Decimal("1100000.20")),
        new_max_extent_date=date(2016, 6, 30),
    ),
    ev.ContractExtended(
        contract_id=C,
        new_end_date=date(2014, 6, 30),
        previous_end_date=date(2013, 6, 30),
        extended_on=date(2013, 5, 1),
        option_reference="option 1",
    ),
    ev.ContractTransferred(
        contract_id=C,
        from_authority=VNG,
        to_authority=LNVT,
        paying_agent=THE_HAGUE,
        transferred_on=date(2013, 9, 1),
    ),
    # An imported contract's start corrected (import25).
    ev.ContractRestated(contract_id=C, restated_on=date(2013, 10, 1), start_date=date(2010, 7, 2)),
    ev.ContractExpired(contract_id=C, expired_on=date(2014, 7, 1)),
)
TERMINATED: tuple[DomainEvent, ...] = (
    *CONTRACT[:2],
    ev.ContractTerminated(contract_id=C, terminated_on=date(2012, 1, 1), reason="merger"),
    ev.ContractReleaseImported(
        contract_id=C,
        ocid="ocds-213czf-c-0800",
        release_id="r-3",
        release_date=datetime(2012, 1, 2, tzinfo=UTC),
        publisher="TenderNed",
        findings=[LawFinding(code="FRAMEWORK_RATIONALE_REQUIRED", message="6 years")],
    ),
)

ORGANISATION: tuple[DomainEvent, ...] = (
    en.OrganisationRegistered(code="GM0193", name="Zwolle", kind="municipality"),
    en.OrganisationRenamed(code="GM0193", name="Swol", previous_name="Zwolle"),
    en.MunicipalityMerged(code="GM0193", successor_code="GM1896", effective_on=date(2019, 1, 1)),
)


def _enrolled(code: str, lots: list[str]) -> en.ParticipantEnrolled:
    return en.ParticipantEnrolled(
        tender_id=W,
        organisation_code=code,
        lot_ids=lots,
        power_of_attorney_ref=f"volmacht-{code}",
        enrolled_on=date(2015, 4, 1),
    )


ENROLMENT_WINDOW: tuple[DomainEvent, ...] = (
    en.EnrolmentWindowOpened(
        tender_id=W,
        lot_ids=["mobile", "devices"],
        opens_on=date(2015, 3, 1),
        closes_on=date(2015, 5, 15),
    ),
    en.EnrolmentWindowExtended(
        tender_id=W, closes_on=date(2015, 5, 29), previous_closes_on=date(2015, 5, 15)
    ),
    _enrolled("GM0363", ["mobile"]),
    _enrolled("GM0599", ["mobile", "devices"]),
    en.ParticipantWithdrawn(tender_id=W, organisation_code="GM0599", withdrawn_on=date(2015, 5, 1)),
    en.ParticipantListFrozen(
        tender_id=W,
        frozen_on=date(2015, 5, 31),
        participants=[en.Participant(organisation_code="GM0363", lot_ids=["mobile"])],
    ),
)

CALL_OFF: tuple[DomainEvent, ...] = (
    en.MiniCompetitionStarted(
        call_off_id="ams-mobile",
        framework_contract_id="gt-mc1-framework",
        tender_id=W,
        lot_id="mobile",
        participant_code="GM0363",
        invited_supplier_ids=[KPN, TELE2],
        started_on=date(2016, 1, 20),
    ),
    en.CallOffAwarded(
        call_off_id="ams-mobile",
        framework_contract_id="gt-mc1-framework",
        tender_id=W,
        lot_id="mobile",
        participant_code="GM0363",
        supplier_id=TELE2,
        awarded_on=date(2016, 2, 15),
        procedure="mini_competition",
        start_date=date(2016, 3, 1),
        end_date=date(2020, 2, 29),
        value=Money.euro(1_200_000),
    ),
)

HISTORIES: dict[tuple[str, str], list[tuple[str, tuple[DomainEvent, ...]]]] = {
    ("registry", "programme"): [("OT2010", PROGRAMME)],
    ("registry", "tender"): [(T, TENDER)],
    ("registry", "contract"): [(C, CONTRACT), (C, TERMINATED)],
    ("enrolment", "organisation"): [("GM0193", ORGANISATION)],
    ("enrolment", "enrolment_window"): [(W, ENROLMENT_WINDOW)],
    ("enrolment", "call_off"): [("ams-mobile", CALL_OFF)],
}
