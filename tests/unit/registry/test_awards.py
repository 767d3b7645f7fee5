"""A lot from bids to definitive award: the standstill, revisions, review, cancelled lots."""

from __future__ import annotations

from datetime import date

import pytest

from contracts_schema.base import Command
from contracts_schema.registry import commands as cmd
from contracts_schema.registry import events as ev
from tests.unit.registry.data import (
    DECIDED_ON,
    KPN,
    STANDSTILL_ENDS,
    TELE2,
    T,
    bids,
    planned,
    provisional,
    published,
)
from tests.unit.registry.gwt import TENDER, given, on

OPEN_TENDER = (planned(), published())
WITH_BIDS = (*OPEN_TENDER, bids())
PROVISIONAL = (*WITH_BIDS, provisional())
REVIEW = ev.ReviewProceedingsStarted(
    tender_id=T,
    lot_id="vast",
    claimant_id=TELE2,
    forum="Rechtbank Den Haag",
    started_on=date(2010, 6, 10),
    reference="KG 10/123",
)
LOT_CANCELLED = ev.LotCancelled(
    tender_id=T, lot_id="vast", cancelled_on=date(2010, 5, 1), reason="x"
)


def test_record_bids() -> None:
    command = cmd.RecordBids(
        command_id="c",
        tender_id=T,
        lot_id="vast",
        bid_count=3,
        bidder_ids=[KPN, TELE2, "KVK-14052264"],
        occurred_at=on(date(2010, 4, 1)),
    )
    assert given(TENDER, *OPEN_TENDER).when(command) == [bids()]
    given(TENDER, *WITH_BIDS).then_rejects(command, "TRANSITION_NOT_ALLOWED")
    given(TENDER, planned()).then_rejects(command, "TRANSITION_NOT_ALLOWED")
    early = command.model_copy(update={"occurred_at": on(date(2010, 2, 1))})
    given(TENDER, *OPEN_TENDER).then_rejects(early, "DATE_OUT_OF_ORDER")


def test_provisional_award_starts_a_standstill_of_twenty_days_from_the_day_after() -> None:
    command = cmd.DecideProvisionalAward(
        command_id="c", tender_id=T, lot_id="vast", supplier_ids=[KPN], occurred_at=on(DECIDED_ON)
    )
    assert given(TENDER, *WITH_BIDS).when(command) == [provisional()]
    assert provisional().standstill_ends_on == date(2010, 6, 21)


def test_provisional_award_needs_bids_and_a_bidder() -> None:
    command = cmd.DecideProvisionalAward(
        command_id="c", tender_id=T, lot_id="vast", supplier_ids=[KPN]
    )
    given(TENDER, *OPEN_TENDER).then_rejects(command, "TRANSITION_NOT_ALLOWED")
    given(TENDER, *PROVISIONAL).then_rejects(command, "TRANSITION_NOT_ALLOWED")
    stranger = command.model_copy(update={"supplier_ids": ["KVK-99999999"]})
    given(TENDER, *WITH_BIDS).then_rejects(stranger, "SUPPLIER_DID_NOT_BID")


def test_award_refused_while_tender_is_paused() -> None:
    paused = ev.TenderPaused(tender_id=T, paused_on=date(2010, 5, 1), reason="re-evaluation")
    command = cmd.DecideProvisionalAward(
        command_id="c", tender_id=T, lot_id="vast", supplier_ids=[KPN]
    )
    given(TENDER, *WITH_BIDS, paused).then_rejects(command, "TRANSITION_NOT_ALLOWED")


@pytest.mark.parametrize(
    "command",
    [
        cmd.RecordBids(command_id="c", tender_id=T, lot_id="vast", bid_count=1),
        cmd.DecideProvisionalAward(command_id="c", tender_id=T, lot_id="vast", supplier_ids=[KPN]),
        cmd.MakeAwardDefinitive(command_id="c", tender_id=T, lot_id="vast"),
    ],
)
def test_no_award_on_a_cancelled_lot(command: Command) -> None:
    message = given(TENDER, *WITH_BIDS, LOT_CANCELLED).then_rejects(command, "LOT_CANCELLED")
    assert "cancelled on 2010-05-01" in message


def test_no_award_when_the_whole_tender_was_cancelled() -> None:
    done = ev.TenderCancelled(
        tender_id=T, cancelled_on=date(2010, 5, 1), reason="x", lot_ids=["vast", "mobiel"]
    )
    command = cmd.DecideProvisionalAward(
        command_id="c", tender_id=T, lot_id="vast", supplier_ids=[KPN]
    )
    given(TENDER, *WITH_BIDS, done).then_rejects(command, "LOT_CANCELLED")


def test_revise_provisional_award_starts_a_new_standstill() -> None:
    day = date(2011, 9, 1)
    command = cmd.ReviseProvisionalAward(
        command_id="c",
        tender_id=T,
        lot_id="vast",
        supplier_ids=[TELE2],
        reason="reconsidered after objection",
        occurred_at=on(day),
    )
    assert given(TENDER, *PROVISIONAL).when(command) == [
        ev.ProvisionalAwardRevised(
            tender_id=T,
            lot_id="vast",
            previous_supplier_ids=[KPN],
            supplier_ids=[TELE2],
            decision_sent_on=day,
            standstill_ends_on=date(2011, 9, 21),
            reason="reconsidered after objection",
        )
    ]
    given(TENDER, *WITH_BIDS).then_rejects(command, "TRANSITION_NOT_ALLOWED")
    before = command.model_copy(update={"occurred_at": on(date(2010, 5, 1))})
    given(TENDER, *PROVISIONAL).then_rejects(before, "DATE_OUT_OF_ORDER")


def test_withdraw_provisional_award_returns_the_lot_to_evaluation() -> None:
    day = date(2010, 6, 5)
    command = cmd.WithdrawProvisionalAward(
        command_id="c", tender_id=T, lot_id="vast", reason="calculation error", occurred_at=on(day)
    )
    withdrawn = ev.ProvisionalAwardWithdrawn(
        tender_id=T, lot_id="vast", supplier_ids=[KPN], withdrawn_on=day, reason="calculation error"
    )
    assert given(TENDER, *PROVISIONAL).when(command) == [withdrawn]
    given(TENDER, *WITH_BIDS).then_rejects(command, "TRANSITION_NOT_ALLOWED")
    again = cmd.DecideProvisionalAward(
        command_id="c", tender_id=T, lot_id="vast", supplier_ids=[TELE2]
    )
    assert given(TENDER, *PROVISIONAL, withdrawn).when(again)


def test_review_proceedings_start_and_conclude() -> None:
    start = cmd.StartReviewProceedings(
        command_id="c",
        tender_id=T,
        lot_id="vast",
        forum="Rechtbank Den Haag",
        claimant_id=TELE2,
        reference="KG 10/123",
        occurred_at=on(date(2010, 6, 10)),
    )
    assert given(TENDER, *PROVISIONAL).when(start) == [REVIEW]
    given(TENDER, *PROVISIONAL, REVIEW).then_rejects(start, "REVIEW_PENDING")
    conclude = cmd.ConcludeReviewProceedings(
        command_id="c",
        tender_id=T,
        lot_id="vast",
        outcome="award_annulled",
        occurred_at=on(date(2011, 3, 1)),
    )
    assert given(TENDER, *PROVISIONAL, REVIEW).when(conclude) == [
        ev.ReviewProceedingsConcluded(
            tender_id=T, lot_id="vast", concluded_on=date(2011, 3, 1), outcome="award_annulled"
        )
    ]
    given(TENDER, *PROVISIONAL).then_rejects(conclude, "TRANSITION_NOT_ALLOWED")


def test_standstill_ended_only_after_its_last_day() -> None:
    last_day = cmd.RecordStandstillEnded(
        command_id="c", tender_id=T, lot_id="vast", occurred_at=on(STANDSTILL_ENDS)
    )
    given(TENDER, *PROVISIONAL).then_rejects(last_day, "STANDSTILL_NOT_ENDED")
    next_day = last_day.model_copy(update={"occurred_at": on(date(2010, 6, 22))})
    ended = ev.StandstillEnded(tender_id=T, lot_id="vast", ended_on=STANDSTILL_ENDS)
    assert given(TENDER, *PROVISIONAL).when(next_day) == [ended]
    given(TENDER, *PROVISIONAL, ended).then_rejects(next_day, "TRANSITION_NOT_ALLOWED")
    given(TENDER, *PROVISIONAL, REVIEW).then_rejects(next_day, "REVIEW_PENDING")


def test_definitive_award_after_the_standstill() -> None:
    day = date(2010, 6, 25)
    command = cmd.MakeAwardDefinitive(
        command_id="c", tender_id=T, lot_id="vast", occurred_at=on(day)
    )
    assert given(TENDER, *PROVISIONAL).when(command) == [
        ev.AwardMadeDefinitive(tender_id=T, lot_id="vast", supplier_ids=[KPN], awarded_on=day)
    ]
    early = command.model_copy(update={"occurred_at": on(date(2010, 6, 15))})
    message = given(TENDER, *PROVISIONAL).then_rejects(early, "STANDSTILL_NOT_ENDED")
    assert "20 calendar days from the day after" in message
    given(TENDER, *PROVISIONAL, REVIEW).then_rejects(command, "REVIEW_PENDING")
    given(TENDER, *WITH_BIDS).then_rejects(command, "TRANSITION_NOT_ALLOWED")
    definitive = ev.AwardMadeDefinitive(
        tender_id=T, lot_id="vast", supplier_ids=[KPN], awarded_on=day
    )
    given(TENDER, *PROVISIONAL, definitive).then_rejects(command, "TRANSITION_NOT_ALLOWED")


def test_unknown_lot_is_named() -> None:
    command = cmd.RecordBids(command_id="c", tender_id=T, lot_id="eud", bid_count=1)
    message = given(TENDER, *OPEN_TENDER).then_rejects(command, "UNKNOWN_LOT")
    assert "its lots are mobiel, vast" in message
