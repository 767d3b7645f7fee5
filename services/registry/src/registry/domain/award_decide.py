"""Decisions on a lot: bids, provisional award and its revision, review, definitive award."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from contracts_schema.errors import RuleViolation
from contracts_schema.registry import commands as cmd
from contracts_schema.registry import events as ev
from contracts_schema.registry.state import LotState, LotStatus, TenderState, TenderStatus
from registry.domain.rules import not_allowed, not_before, standstill_ends_on
from registry.domain.tender_checks import lot_of, require_status

OPEN, BIDS = LotStatus.OPEN, LotStatus.BIDS_RECEIVED
PROVISIONAL = LotStatus.PROVISIONALLY_AWARDED


def decide_award(state: TenderState, command: cmd.LotCommand, on: date) -> Sequence[ev.TenderEvent]:
    lot = lot_of(state, command.lot_id)
    if lot.status is LotStatus.CANCELLED:
        raise lot_cancelled(state.tender_id, lot)
    require_status(state, "an award step", (TenderStatus.PUBLISHED,), "the tender is published")
    tid, lid = state.tender_id, lot.lot_id
    match command:
        case cmd.RecordBids():
            _require_lot(state, lot, "recording bids", (OPEN,), "no bids are recorded yet")
            not_before(on, state.published_on, "receiving bids", "the publication")
            return [
                ev.BidsRecorded(
                    tender_id=tid,
                    lot_id=lid,
                    received_on=on,
                    bid_count=command.bid_count,
                    bidder_ids=command.bidder_ids,
                )
            ]
        case cmd.DecideProvisionalAward():
            _require_lot(state, lot, "a provisional award", (BIDS,), "its bids are recorded")
            not_before(on, state.published_on, "the award decision", "the publication")
            # Lot facts follow each other in valid time as recorded (every view folds them by
            # day): a decision before the bids it decides on would come first there.
            not_before(on, lot.received_on, "the award decision", "the bids")
            not_before(on, lot.withdrawn_on, "the award decision", "the previous one's withdrawal")
            _require_bidders(lot, command.supplier_ids)
            return [
                ev.ProvisionalAwardDecided(
                    tender_id=tid,
                    lot_id=lid,
                    supplier_ids=command.supplier_ids,
                    decision_sent_on=on,
                    standstill_ends_on=standstill_ends_on(on),
                )
            ]
        case cmd.ReviseProvisionalAward():
            _require_lot(state, lot, "revising the award", (PROVISIONAL,), "it is provisional")
            not_before(on, lot.decision_sent_on, "the revised decision", "the first decision")
            _require_bidders(lot, command.supplier_ids)
            return [
                ev.ProvisionalAwardRevised(
                    tender_id=tid,
                    lot_id=lid,
                    previous_supplier_ids=list(lot.supplier_ids),
                    supplier_ids=command.supplier_ids,
                    decision_sent_on=on,
                    standstill_ends_on=standstill_ends_on(on),
                    reason=command.reason,
                )
            ]
        case cmd.WithdrawProvisionalAward():
            _require_lot(state, lot, "withdrawing the award", (PROVISIONAL,), "it is provisional")
            not_before(on, lot.decision_sent_on, "withdrawing the award", "the decision")
            return [
                ev.ProvisionalAwardWithdrawn(
                    tender_id=tid,
                    lot_id=lid,
                    supplier_ids=list(lot.supplier_ids),
                    withdrawn_on=on,
                    reason=command.reason,
                )
            ]
        case cmd.StartReviewProceedings():
            _require_lot(state, lot, "review proceedings", (PROVISIONAL,), "it is provisional")
            not_before(on, lot.decision_sent_on, "review proceedings", "the decision")
            if lot.review_pending:
                raise review_pending(tid, lot)
            return [
                ev.ReviewProceedingsStarted(
                    tender_id=tid,
                    lot_id=lid,
                    claimant_id=command.claimant_id,
                    forum=command.forum,
                    started_on=on,
                    reference=command.reference,
                )
            ]
        case cmd.ConcludeReviewProceedings():
            if not lot.review_pending:
                raise not_allowed(
                    f"concluding review proceedings on lot {lid} of tender {tid}",
                    "without pending proceedings",
                    "proceedings were started",
                )
            assert lot.review is not None
            # Every view folds by day: a conclusion before the start would find none there.
            not_before(on, lot.review.started_on, "concluding review proceedings", "their start")
            return [
                ev.ReviewProceedingsConcluded(
                    tender_id=tid, lot_id=lid, concluded_on=on, outcome=command.outcome
                )
            ]
        case cmd.RecordStandstillEnded():
            _require_lot(state, lot, "ending the standstill", (PROVISIONAL,), "it is provisional")
            if lot.standstill_ended:
                raise not_allowed(
                    f"ending the standstill of lot {lid} of tender {tid}",
                    "already ended",
                    "the standstill is still running",
                )
            _require_standstill_over(tid, lot, on, "its end can be recorded")
            assert lot.standstill_ends_on is not None
            return [ev.StandstillEnded(tender_id=tid, lot_id=lid, ended_on=lot.standstill_ends_on)]
        case cmd.MakeAwardDefinitive():
            _require_lot(state, lot, "a definitive award", (PROVISIONAL,), "it is provisional")
            _require_standstill_over(tid, lot, on, "the award can become definitive")
            return [
                ev.AwardMadeDefinitive(
                    tender_id=tid, lot_id=lid, supplier_ids=list(lot.supplier_ids), awarded_on=on
                )
            ]
    raise TypeError(f"the tender aggregate does not handle {type(command).__name__}")


def lot_last_day(lot: LotState) -> date | None:
    """The day of the lot's last fact (its bids, decisions, withdrawal, review)."""
    review = lot.review
    days = [
        d
        for d in (
            lot.received_on,
            lot.decision_sent_on,
            lot.withdrawn_on,
            review.started_on if review else None,
            review.concluded_on if review else None,
        )
        if d is not None
    ]
    return max(days) if days else None


def _require_lot(
    state: TenderState, lot: LotState, what: str, allowed: tuple[LotStatus, ...], when: str
) -> None:
    if lot.status not in allowed:
        raise not_allowed(
            f"{what} on lot {lot.lot_id} of tender {state.tender_id}", str(lot.status), when
        )


def _require_bidders(lot: LotState, supplier_ids: list[str]) -> None:
    strangers = [s for s in supplier_ids if lot.bidder_ids and s not in lot.bidder_ids]
    if strangers:
        raise RuleViolation(
            "SUPPLIER_DID_NOT_BID",
            f"{', '.join(strangers)} did not bid on lot {lot.lot_id};"
            " a lot can be awarded only to one of its bidders",
        )


def _require_standstill_over(tender_id: str, lot: LotState, on: date, then: str) -> None:
    if lot.review_pending:
        raise review_pending(tender_id, lot)
    require_standstill_over(tender_id, lot, on, then)


def require_standstill_over(tender_id: str, lot: LotState, on: date, then: str) -> None:
    # Aanbestedingswet 2012 art. 2.127 (Alcatel period).
    ends = lot.standstill_ends_on
    if ends is not None and on <= ends:
        raise RuleViolation(
            "STANDSTILL_NOT_ENDED",
            f"the standstill period of lot {lot.lot_id} of tender {tender_id} runs until {ends}"
            f" (at least 20 calendar days from the day after the award decision was sent on"
            f" {lot.decision_sent_on}); it must end before {then}, so not on {on}",
        )


def review_pending(tender_id: str, lot: LotState) -> RuleViolation:
    return RuleViolation(
        "REVIEW_PENDING",
        f"review proceedings on the award of lot {lot.lot_id} of tender {tender_id} are"
        " pending; the award cannot become final or be signed until they are concluded",
    )


def lot_cancelled(tender_id: str, lot: LotState) -> RuleViolation:
    return RuleViolation(
        "LOT_CANCELLED",
        f"lot {lot.lot_id} of tender {tender_id} was cancelled on {lot.cancelled_on};"
        " a cancelled lot cannot be awarded",
    )
