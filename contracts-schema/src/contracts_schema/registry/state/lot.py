"""One lot of a tender: its bids, award and review, as the registry folds them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from contracts_schema.errors import FoldError
from contracts_schema.frozen import replace
from contracts_schema.registry import award_events as ev
from contracts_schema.registry.values import ReviewOutcome


class LotStatus(StrEnum):
    # A standstill that ended and pending review proceedings are flags, not statuses.
    OPEN = "open"
    BIDS_RECEIVED = "bids_received"
    PROVISIONALLY_AWARDED = "provisionally_awarded"
    AWARDED = "awarded"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class ReviewProceedings:
    """The latest challenge of a lot's award (e.g. a kort geding)."""

    forum: str
    started_on: date
    claimant_id: str | None = None
    reference: str | None = None
    concluded_on: date | None = None
    outcome: ReviewOutcome | None = None

    @property
    def pending(self) -> bool:
        return self.concluded_on is None


@dataclass(frozen=True)
class LotState:
    lot_id: str
    title: str
    status: LotStatus = LotStatus.OPEN
    bidder_ids: tuple[str, ...] = ()
    bid_count: int | None = None
    received_on: date | None = None
    supplier_ids: tuple[str, ...] = ()
    previous_supplier_ids: tuple[str, ...] = ()  # before the latest revision or withdrawal
    revision_reason: str | None = None
    decision_sent_on: date | None = None
    standstill_ends_on: date | None = None
    standstill_ended_on: date | None = None
    review: ReviewProceedings | None = None
    awarded_on: date | None = None
    withdrawn_on: date | None = None
    withdrawal_reason: str | None = None
    cancelled_on: date | None = None
    cancel_reason: str | None = None
    # Imported only (import25): the published award (OCDS `awards[].id`) that holds the lot.
    source_award_id: str | None = None
    # False: imported data stated no title for it (`title` is the registry's default, its id),
    # or a later release no longer states one (import30).
    title_stated: bool = True

    @property
    def standstill_ended(self) -> bool:
        return self.standstill_ended_on is not None

    @property
    def review_pending(self) -> bool:
        return self.review is not None and self.review.pending

    def cancelled(self, on: date, reason: str) -> LotState:
        return replace(self, status=LotStatus.CANCELLED, cancelled_on=on, cancel_reason=reason)


LotEvent = (
    ev.BidsRecorded
    | ev.ProvisionalAwardDecided
    | ev.ProvisionalAwardRevised
    | ev.ProvisionalAwardWithdrawn
    | ev.ReviewProceedingsStarted
    | ev.ReviewProceedingsConcluded
    | ev.StandstillEnded
    | ev.AwardMadeDefinitive
)
LOT_EVENTS = (
    ev.BidsRecorded,
    ev.ProvisionalAwardDecided,
    ev.ProvisionalAwardRevised,
    ev.ProvisionalAwardWithdrawn,
    ev.ReviewProceedingsStarted,
    ev.ReviewProceedingsConcluded,
    ev.StandstillEnded,
    ev.AwardMadeDefinitive,
)


def evolve_lot(lot: LotState, event: LotEvent) -> LotState:
    match event:
        case ev.BidsRecorded():
            return replace(
                lot,
                status=LotStatus.BIDS_RECEIVED,
                bidder_ids=tuple(event.bidder_ids),
                bid_count=event.bid_count,
                received_on=event.received_on,
            )
        case ev.ProvisionalAwardDecided():
            return _provisional(lot, event)
        case ev.ProvisionalAwardRevised():
            revised = replace(
                lot,
                previous_supplier_ids=tuple(event.previous_supplier_ids),
                revision_reason=event.reason,
            )
            return _provisional(revised, event)
        case ev.ProvisionalAwardWithdrawn():
            # Back in evaluation: the bids stand, the award and its standstill do not.
            return replace(
                lot,
                status=LotStatus.BIDS_RECEIVED,
                previous_supplier_ids=tuple(event.supplier_ids),
                supplier_ids=(),
                decision_sent_on=None,
                standstill_ends_on=None,
                standstill_ended_on=None,
                withdrawn_on=event.withdrawn_on,
                withdrawal_reason=event.reason,
                source_award_id=None,
            )
        case ev.ReviewProceedingsStarted():
            review = ReviewProceedings(
                forum=event.forum,
                started_on=event.started_on,
                claimant_id=event.claimant_id,
                reference=event.reference,
            )
            return replace(lot, review=review)
        case ev.ReviewProceedingsConcluded():
            if lot.review is None:
                raise FoldError(
                    f"{event.event_type} on lot {lot.lot_id} of tender {event.tender_id}"
                    " cannot apply: no review proceedings were started"
                )
            concluded = replace(lot.review, concluded_on=event.concluded_on, outcome=event.outcome)
            return replace(lot, review=concluded)
        case ev.StandstillEnded():
            return replace(lot, standstill_ended_on=event.ended_on)
        case ev.AwardMadeDefinitive():
            return replace(
                lot,
                status=LotStatus.AWARDED,
                supplier_ids=tuple(event.supplier_ids),
                awarded_on=event.awarded_on,
                source_award_id=event.source_award_id or lot.source_award_id,
            )


def _provisional(
    lot: LotState, event: ev.ProvisionalAwardDecided | ev.ProvisionalAwardRevised
) -> LotState:
    # A revised decision starts a new standstill period.
    return replace(
        lot,
        status=LotStatus.PROVISIONALLY_AWARDED,
        supplier_ids=tuple(event.supplier_ids),
        decision_sent_on=event.decision_sent_on,
        standstill_ends_on=event.standstill_ends_on,
        standstill_ended_on=None,
        source_award_id=event.source_award_id,
    )
