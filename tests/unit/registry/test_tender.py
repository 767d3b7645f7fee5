"""A tender before its award: plan, notices, publication, corrections, pauses, cancellation."""

from __future__ import annotations

from datetime import date

import pytest

from contracts_schema.base import Command
from contracts_schema.registry import commands as cmd
from contracts_schema.registry import events as ev
from contracts_schema.registry.values import Lot
from registry.domain.facts import FrozenParticipantList, KnownSuccessor, NamedProgramme
from tests.unit.registry.data import KING, PUBLISHED_ON, T, planned, published
from tests.unit.registry.gwt import TENDER, given, on

FROZEN = FrozenParticipantList(T, date(2010, 2, 1), ("GM0363", "GM0518"))


def test_plan_tender_yields_tender_planned_with_its_lots() -> None:
    events = given(TENDER).when(
        cmd.PlanTender(
            command_id="c",
            tender_id=T,
            programme_id="OT2010-programme",
            title="Overheidstelefonie 2010",
            contracting_authority=KING,
            procedure="open",
            framework=True,
            lots=[Lot(lot_id="vast", title="Vast"), Lot(lot_id="mobiel", title="Mobiel")],
            occurred_at=on(date(2009, 9, 1)),
        ),
        facts=NamedProgramme("OT2010-programme", planned=True),
    )
    assert events == [planned()]


def test_a_tender_is_planned_once() -> None:
    command = cmd.PlanTender(
        command_id="c",
        tender_id=T,
        title="again",
        contracting_authority=KING,
        procedure="open",
        framework=False,
        lots=[Lot(lot_id="1", title="Alles")],
    )
    given(TENDER, planned()).then_rejects(command, "TENDER_ALREADY_PLANNED")


def test_lot_ids_must_be_unique() -> None:
    with pytest.raises(ValueError, match="repeated: a"):
        cmd.PlanTender(
            command_id="c",
            tender_id=T,
            title="t",
            contracting_authority=KING,
            procedure="open",
            framework=False,
            lots=[Lot(lot_id="a", title="A"), Lot(lot_id="a", title="B")],
        )


def test_nothing_happens_to_an_unplanned_tender() -> None:
    command = cmd.ClarifyTender(command_id="c", tender_id=T, summary="q&a")
    message = given(TENDER).then_rejects(command, "TENDER_NOT_FOUND")
    assert "has not been planned" in message


def test_prior_information_notice_and_market_consultation_while_planned() -> None:
    day = date(2009, 10, 1)
    notice = cmd.PublishPriorInformationNotice(
        command_id="c", tender_id=T, notice_reference="PIN-1", occurred_at=on(day)
    )
    assert given(TENDER, planned()).when(notice) == [
        ev.PriorInformationNoticePublished(tender_id=T, published_on=day, notice_reference="PIN-1")
    ]
    consult = cmd.HoldMarketConsultation(
        command_id="c",
        tender_id=T,
        started_on=date(2009, 9, 1),
        ended_on=date(2009, 10, 15),
        summary="suppliers asked about VoIP",
    )
    assert given(TENDER, planned()).when(consult) == [
        ev.MarketConsultationHeld(
            tender_id=T,
            started_on=date(2009, 9, 1),
            ended_on=date(2009, 10, 15),
            summary="suppliers asked about VoIP",
        )
    ]
    # Once published, the preparation stage is over.
    given(TENDER, planned(), published()).then_rejects(notice, "TRANSITION_NOT_ALLOWED")
    backwards = consult.model_copy(update={"ended_on": date(2009, 8, 1)})
    given(TENDER, planned()).then_rejects(backwards, "INVALID_PERIOD")


def test_publish_against_the_frozen_participant_list() -> None:
    command = cmd.PublishTender(
        command_id="c", tender_id=T, notice_reference="TED-2010-1", occurred_at=on(PUBLISHED_ON)
    )
    events = given(TENDER, planned()).when(command, facts=FROZEN)
    assert events == [published().model_copy(update={"participant_codes": ["GM0363", "GM0518"]})]


def test_publication_is_refused_without_a_frozen_participant_list() -> None:
    command = cmd.PublishTender(command_id="c", tender_id=T, notice_reference="TED-2010-1")
    message = given(TENDER, planned()).then_rejects(command, "PARTICIPANT_LIST_NOT_FROZEN")
    assert "2014/24/EU art. 33(2)" in message


def test_publication_before_the_list_was_frozen_is_refused_in_valid_time() -> None:
    # The list was frozen on 1 February; a publication dated January is refused.
    command = cmd.PublishTender(
        command_id="c", tender_id=T, notice_reference="x", occurred_at=on(date(2010, 1, 20))
    )
    message = given(TENDER, planned()).then_rejects(
        command, "PARTICIPANT_LIST_NOT_FROZEN", facts=FROZEN
    )
    assert "frozen only on 2010-02-01" in message


def test_publish_twice_is_not_a_transition() -> None:
    command = cmd.PublishTender(command_id="c", tender_id=T, notice_reference="again")
    given(TENDER, planned(), published()).then_rejects(
        command, "TRANSITION_NOT_ALLOWED", facts=FROZEN
    )


def test_correct_and_clarify_a_published_tender() -> None:
    day = date(2010, 3, 10)
    correct = cmd.CorrectTender(
        command_id="c",
        tender_id=T,
        summary="deadline moved",
        notice_reference="TED-2010-2",
        occurred_at=on(day),
    )
    clarify = cmd.ClarifyTender(command_id="c", tender_id=T, summary="NvI 1", occurred_at=on(day))
    history = given(TENDER, planned(), published())
    assert history.when(correct) == [
        ev.TenderCorrected(
            tender_id=T, corrected_on=day, notice_reference="TED-2010-2", summary="deadline moved"
        )
    ]
    assert history.when(clarify) == [
        ev.TenderClarified(tender_id=T, clarified_on=day, summary="NvI 1")
    ]
    given(TENDER, planned()).then_rejects(correct, "TRANSITION_NOT_ALLOWED")
    given(TENDER, planned()).then_rejects(clarify, "TRANSITION_NOT_ALLOWED")


def test_pause_and_resume_return_to_the_earlier_stage() -> None:
    paused = ev.TenderPaused(tender_id=T, paused_on=date(2019, 12, 1), reason="re-evaluation")
    pause = cmd.PauseTender(
        command_id="c", tender_id=T, reason="re-evaluation", occurred_at=on(date(2019, 12, 1))
    )
    assert given(TENDER, planned(), published()).when(pause) == [paused]
    resume = cmd.ResumeTender(command_id="c", tender_id=T, occurred_at=on(date(2020, 1, 6)))
    assert given(TENDER, planned(), published(), paused).when(resume) == [
        ev.TenderResumed(tender_id=T, resumed_on=date(2020, 1, 6))
    ]
    given(TENDER, planned(), published(), paused).then_rejects(pause, "TRANSITION_NOT_ALLOWED")
    given(TENDER, planned(), published()).then_rejects(resume, "TRANSITION_NOT_ALLOWED")
    # Resumed, the tender is published again: a clarification is fine.
    resumed = ev.TenderResumed(tender_id=T, resumed_on=date(2020, 1, 6))
    clarify = cmd.ClarifyTender(command_id="c", tender_id=T, summary="NvI 2")
    assert given(TENDER, planned(), published(), paused, resumed).when(clarify)


def test_cancel_a_lot() -> None:
    command = cmd.CancelLot(
        command_id="c",
        tender_id=T,
        lot_id="mobiel",
        reason="no bids",
        occurred_at=on(date(2010, 5, 1)),
    )
    cancelled = ev.LotCancelled(
        tender_id=T, lot_id="mobiel", cancelled_on=date(2010, 5, 1), reason="no bids"
    )
    assert given(TENDER, planned(), published()).when(command) == [cancelled]
    given(TENDER, planned(), published(), cancelled).then_rejects(command, "TRANSITION_NOT_ALLOWED")
    unknown = command.model_copy(update={"lot_id": "inbound"})
    assert "vast" in given(TENDER, planned()).then_rejects(unknown, "UNKNOWN_LOT")


def test_cancel_the_whole_tender_cancels_its_open_lots() -> None:
    lot = ev.LotCancelled(tender_id=T, lot_id="mobiel", cancelled_on=date(2019, 12, 1), reason="x")
    command = cmd.CancelTender(
        command_id="c", tender_id=T, reason="stopped for good", occurred_at=on(date(2020, 3, 1))
    )
    assert given(TENDER, planned(), published(), lot).when(command) == [
        ev.TenderCancelled(
            tender_id=T, cancelled_on=date(2020, 3, 1), reason="stopped for good", lot_ids=["vast"]
        )
    ]
    done = ev.TenderCancelled(
        tender_id=T, cancelled_on=date(2020, 3, 1), reason="x", lot_ids=["vast", "mobiel"]
    )
    given(TENDER, planned(), done).then_rejects(command, "TRANSITION_NOT_ALLOWED")


def test_link_successor_tender() -> None:
    command = cmd.LinkSuccessorTender(
        command_id="c", tender_id=T, successor_tender_id="OT2017", occurred_at=on(date(2016, 4, 19))
    )
    linked = ev.SuccessorTenderLinked(
        tender_id=T, successor_tender_id="OT2017", linked_on=date(2016, 4, 19)
    )
    known = KnownSuccessor("OT2017", exists=True)
    assert given(TENDER, planned()).when(command, facts=known) == [linked]
    given(TENDER, planned(), linked).then_rejects(command, "SUCCESSOR_ALREADY_LINKED")
    itself = command.model_copy(update={"successor_tender_id": T})
    given(TENDER, planned()).then_rejects(itself, "SELF_SUCCESSION")
    unknown = KnownSuccessor("OT2017", exists=False)
    given(TENDER, planned()).then_rejects(command, "SUCCESSOR_TENDER_NOT_FOUND", facts=unknown)


@pytest.mark.parametrize(
    "command",
    [
        cmd.PauseTender(command_id="c", tender_id=T, reason="r"),
        cmd.CancelLot(command_id="c", tender_id=T, lot_id="vast", reason="r"),
        cmd.CancelTender(command_id="c", tender_id=T, reason="r"),
        cmd.CorrectTender(command_id="c", tender_id=T, summary="s"),
    ],
)
def test_a_cancelled_tender_allows_no_further_steps(command: Command) -> None:
    done = ev.TenderCancelled(
        tender_id=T, cancelled_on=date(2020, 3, 1), reason="x", lot_ids=["vast", "mobiel"]
    )
    given(TENDER, planned(), done).then_rejects(command, "TRANSITION_NOT_ALLOWED")
