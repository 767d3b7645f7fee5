"""What registry events mean, as every read model sees them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import reduce

import pytest

from contracts_schema.base import DomainEvent
from contracts_schema.errors import FoldError
from contracts_schema.registry import events as ev
from contracts_schema.registry.state import (
    ContractKind,
    ContractStatus,
    LotStatus,
    TenderPhase,
    TenderState,
    TenderStatus,
    contract,
    programme,
    tender,
)
from tests.unit.folds.histories import CONTRACT, PROGRAMME, TENDER, TERMINATED
from tests.unit.registry.data import (
    KPN,
    LNVT,
    TELE2,
    THE_HAGUE,
    T,
    bids,
    definitive,
    planned,
    provisional,
    published,
)


def tender_after(*events: DomainEvent) -> TenderState:
    return reduce(tender.evolve, events, tender.initial(T))


def test_the_whole_tender_history_in_one_state() -> None:
    state = tender_after(*TENDER)
    assert state.status is TenderStatus.CANCELLED
    assert state.phase is TenderPhase.CANCELLED
    assert (state.cancelled_on, state.cancellation_reason) == (date(2010, 8, 1), "budget")
    assert state.prior_notice_reference == "PIN-1"
    assert state.market_consultation_summary == "lots"
    assert state.notice_reference == "TED-2010-1"
    assert state.participant_codes == ("GM0363",)
    assert [c.summary for c in state.corrections] == ["annex 2"]
    assert [c.summary for c in state.clarifications] == ["NvI 1"]
    assert state.successor_tender_ids == ("OT2017",)
    assert state.lot_ids == ("vast", "mobiel", "data")  # the order of TenderPlanned
    vast, mobiel, data = state.lots
    assert (vast.status, vast.supplier_ids, vast.previous_supplier_ids) == (
        LotStatus.AWARDED,
        (TELE2,),
        (KPN,),
    )
    assert vast.bid_count == 3
    assert vast.standstill_ended
    assert not vast.review_pending
    assert vast.review is not None
    assert vast.review.outcome == "award_upheld"
    assert (mobiel.status, mobiel.withdrawn_on, mobiel.cancel_reason) == (
        LotStatus.CANCELLED,
        date(2010, 7, 1),
        "budget",
    )
    assert (data.status, data.cancel_reason) == (LotStatus.CANCELLED, "no bids")


def test_the_phase_follows_the_lots_awards() -> None:
    two_lots = (planned("vast", "mobiel"), published())
    assert tender_after(two_lots[0]).phase is TenderPhase.PLANNED
    assert tender_after(*two_lots).phase is TenderPhase.PUBLISHED
    provisional_one = (*two_lots, bids("vast"), provisional("vast"))
    assert tender_after(*provisional_one).phase is TenderPhase.PROVISIONALLY_AWARDED
    # One lot definitive, the other not yet: still provisionally awarded (no "partly").
    one_done = (*provisional_one, definitive("vast"))
    assert tender_after(*one_done).phase is TenderPhase.PROVISIONALLY_AWARDED
    other_cancelled = ev.LotCancelled(
        tender_id=T, lot_id="mobiel", cancelled_on=date(2010, 7, 1), reason="x"
    )
    assert tender_after(*one_done, other_cancelled).phase is TenderPhase.AWARDED


def test_resuming_restores_the_status_before_the_pause() -> None:
    pause = ev.TenderPaused(tender_id=T, paused_on=date(2010, 3, 2), reason="objection")
    resume = ev.TenderResumed(tender_id=T, resumed_on=date(2010, 3, 9))
    paused = tender_after(planned(), published(), pause)
    assert paused.phase is TenderPhase.PAUSED
    assert paused.pause_reason == "objection"
    resumed = tender_after(planned(), published(), pause, resume)
    assert resumed.status is TenderStatus.PUBLISHED
    assert resumed.resumed_on == date(2010, 3, 9)


def test_a_withdrawn_award_sends_the_lot_back_to_evaluation() -> None:
    withdrawn = ev.ProvisionalAwardWithdrawn(
        tender_id=T, lot_id="vast", supplier_ids=[KPN], withdrawn_on=date(2010, 6, 5), reason="x"
    )
    lot = tender_after(planned(), published(), bids(), provisional(), withdrawn).lots[0]
    assert lot.status is LotStatus.BIDS_RECEIVED
    assert (lot.supplier_ids, lot.standstill_ends_on, lot.previous_supplier_ids) == (
        (),
        None,
        (KPN,),
    )


@pytest.mark.parametrize(
    ("history", "message"),
    [
        ((published(),), "TenderPublished cannot apply to tender OT2010: the tender was never"),
        (
            (planned(), planned().model_copy(update={"title": "Iets anders"})),
            "TenderPlanned cannot apply to tender OT2010: the tender was al",
        ),
        (
            (planned(), bids("nope")),
            "BidsRecorded cannot apply to tender OT2010: it has no lot nope",
        ),
        (
            (planned(), ev.TenderResumed(tender_id=T, resumed_on=date(2010, 1, 1))),
            "TenderResumed cannot apply to tender OT2010: the tender is not paused",
        ),
    ],
)
def test_an_event_that_cannot_apply_is_an_error_not_a_silent_drop(
    history: tuple[DomainEvent, ...], message: str
) -> None:
    with pytest.raises(FoldError, match=message):
        tender_after(*history)


def test_the_same_planning_dated_back_plans_it_from_the_earlier_day_in_either_order() -> None:
    earlier = planned().model_copy(update={"planned_on": date(2009, 1, 5)})
    by_day = tender_after(earlier, planned(), published())
    as_recorded = tender_after(planned(), published(), earlier)
    assert by_day == as_recorded
    assert by_day.planned_on == date(2009, 1, 5)


def test_a_contract_keeps_what_was_signed_and_every_change() -> None:
    state = reduce(contract.evolve, CONTRACT, contract.initial("c-0800"))
    assert state.kind is ContractKind.FRAMEWORK
    assert state.title == "Vaste telefonie"
    assert [s.supplier_id for s in state.suppliers] == [TELE2]
    # The amendment gave a value and a maximum extent, not an end date.
    assert state.value_eur == Decimal("1100000.2")
    assert state.max_extent_date == date(2016, 6, 30)
    assert state.end_date == date(2014, 6, 30)  # the extension
    assert [a.summary for a in state.amendments] == ["indexation"]
    assert [(t.to_authority, t.paying_agent) for t in state.transfers] == [(LNVT, THE_HAGUE)]
    assert (state.contracting_authority, state.paying_agent) == (LNVT, THE_HAGUE)
    assert (state.status, state.expired_on, state.ended_on) == (
        ContractStatus.EXPIRED,
        date(2014, 7, 1),
        date(2014, 7, 1),
    )
    ended = reduce(contract.evolve, TERMINATED, contract.initial("c-0800"))
    assert (ended.status, ended.end_reason) == (ContractStatus.TERMINATED, "merger")


def test_a_contract_event_before_the_signature_is_an_error() -> None:
    with pytest.raises(FoldError, match="ContractAmended cannot apply to contract c-0800"):
        contract.evolve(contract.initial("c-0800"), CONTRACT[1])


def test_a_programme_keeps_its_coordinator_and_successors() -> None:
    state = reduce(programme.evolve, PROGRAMME, programme.initial("OT2010"))
    assert (state.coordinator, state.planned_on) == ("KVK-27351236", date(2009, 6, 1))
    assert (state.predecessor_programme_id, state.successor_programme_ids) == (
        "OT2006",
        ("OT2017",),
    )
