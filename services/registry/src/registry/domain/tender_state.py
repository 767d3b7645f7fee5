"""The tender aggregate's state: a fold over its events."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum

from contracts_schema.base import DomainEvent
from contracts_schema.registry import events as ev


class TenderStatus(StrEnum):
    NEW = "new"
    PLANNED = "planned"
    PUBLISHED = "published"
    PAUSED = "paused"
    CANCELLED = "cancelled"


class LotStatus(StrEnum):
    OPEN = "open"
    BIDS_RECEIVED = "bids received"
    PROVISIONALLY_AWARDED = "provisionally awarded"
    DEFINITIVELY_AWARDED = "definitively awarded"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class LotState:
    lot_id: str
    title: str
    status: LotStatus = LotStatus.OPEN
    bidder_ids: tuple[str, ...] = ()
    supplier_ids: tuple[str, ...] = ()
    decision_sent_on: date | None = None
    standstill_ends_on: date | None = None
    standstill_ended: bool = False
    review_pending: bool = False
    awarded_on: date | None = None
    cancelled_on: date | None = None


@dataclass(frozen=True)
class TenderState:
    tender_id: str = ""
    status: TenderStatus = TenderStatus.NEW
    status_before_pause: TenderStatus | None = None
    title: str = ""
    framework: bool = False
    planned_on: date | None = None
    published_on: date | None = None
    cancelled_on: date | None = None
    lots: dict[str, LotState] = field(default_factory=dict)
    successor_tender_ids: tuple[str, ...] = ()

    def with_lot(self, lot: LotState) -> TenderState:
        return replace(self, lots={**self.lots, lot.lot_id: lot})


INITIAL_TENDER = TenderState()


def evolve_tender(state: TenderState, event: DomainEvent) -> TenderState:
    match event:
        case ev.TenderPlanned():
            return TenderState(
                tender_id=event.tender_id,
                status=TenderStatus.PLANNED,
                title=event.title,
                framework=event.framework,
                planned_on=event.planned_on,
                lots={lot.lot_id: LotState(lot.lot_id, lot.title) for lot in event.lots},
            )
        case ev.TenderPublished():
            return replace(state, status=TenderStatus.PUBLISHED, published_on=event.published_on)
        case ev.TenderPaused():
            return replace(state, status=TenderStatus.PAUSED, status_before_pause=state.status)
        case ev.TenderResumed():
            resumed = state.status_before_pause or TenderStatus.PLANNED
            return replace(state, status=resumed, status_before_pause=None)
        case ev.TenderCancelled():
            cancelled = replace(
                state, status=TenderStatus.CANCELLED, cancelled_on=event.cancelled_on
            )
            for lot_id in event.lot_ids:
                cancelled = _cancel_lot(cancelled, lot_id, event.cancelled_on)
            return cancelled
        case ev.LotCancelled():
            return _cancel_lot(state, event.lot_id, event.cancelled_on)
        case ev.SuccessorTenderLinked():
            successors = (*state.successor_tender_ids, event.successor_tender_id)
            return replace(state, successor_tender_ids=successors)
    return _evolve_lot(state, event)


def _cancel_lot(state: TenderState, lot_id: str, on: date) -> TenderState:
    lot = state.lots[lot_id]
    return state.with_lot(replace(lot, status=LotStatus.CANCELLED, cancelled_on=on))


def _evolve_lot(state: TenderState, event: DomainEvent) -> TenderState:
    lot_id = getattr(event, "lot_id", None)
    if lot_id is None or lot_id not in state.lots:
        return state  # notices, corrections and clarifications do not change the state
    lot = state.lots[lot_id]
    match event:
        case ev.BidsRecorded():
            lot = replace(lot, status=LotStatus.BIDS_RECEIVED, bidder_ids=tuple(event.bidder_ids))
        case ev.ProvisionalAwardDecided() | ev.ProvisionalAwardRevised():
            lot = replace(
                lot,
                status=LotStatus.PROVISIONALLY_AWARDED,
                supplier_ids=tuple(event.supplier_ids),
                decision_sent_on=event.decision_sent_on,
                standstill_ends_on=event.standstill_ends_on,
                standstill_ended=False,
            )
        case ev.ProvisionalAwardWithdrawn():
            lot = replace(
                lot,
                status=LotStatus.BIDS_RECEIVED,
                supplier_ids=(),
                decision_sent_on=None,
                standstill_ends_on=None,
                standstill_ended=False,
            )
        case ev.ReviewProceedingsStarted():
            lot = replace(lot, review_pending=True)
        case ev.ReviewProceedingsConcluded():
            lot = replace(lot, review_pending=False)
        case ev.StandstillEnded():
            lot = replace(lot, standstill_ended=True)
        case ev.AwardMadeDefinitive():
            lot = replace(
                lot,
                status=LotStatus.DEFINITIVELY_AWARDED,
                supplier_ids=tuple(event.supplier_ids),
                awarded_on=event.awarded_on,
            )
    return state.with_lot(lot)
