"""Whether a recorded fact still applies after an earlier-dated fact is inserted before it.

A fact learned late is decided on its aggregate as it was on its day (the fold of the facts
valid by then, in valid-time order), and then every fact dated after it is folded again on
top of it, as every view folds them. The published `evolve` refuses what cannot apply at all
(a resumption of a tender that is not paused); `problem` names what the rules that decided a
fact would no longer allow (an amendment of a contract terminated before it). Pure: the
state just before the later fact, the fact, and its valid day.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from contracts_schema.base import DomainEvent
from contracts_schema.enrolment import events as en
from contracts_schema.enrolment.state import EnrolmentWindowState, OrganisationState
from contracts_schema.registry import award_events as ae
from contracts_schema.registry import contract_events as ce
from contracts_schema.registry import tender_events as te
from contracts_schema.registry.state import (
    ContractState,
    ContractStatus,
    LotState,
    LotStatus,
    TenderState,
    TenderStatus,
)

Problem = Callable[[Any, DomainEvent, date], str | None]


# A contract's changes: each decided on a contract not ended by its day.
_CHANGES = (ce.ContractAmended, ce.ContractExtended, ce.ContractTransferred, ce.ContractTerminated)


def contract(state: ContractState, event: DomainEvent, day: date) -> str | None:
    if isinstance(event, ce.ContractExpired):
        if state.status is not ContractStatus.ACTIVE:
            return f"the contract {state.ended_by(day) or 'had ended'}"
        if state.end_date is not None and day <= state.end_date:
            return f"the contract would run until {state.end_date}"
        return None
    if not isinstance(event, _CHANGES):
        return None
    ended = state.ended_by(day)
    if ended:
        return f"the contract {ended}"
    extent, end = state.max_extent_date, state.end_date
    match event:
        case ce.ContractExtended():
            # What it extended is part of the fact (every reader shows it).
            if event.previous_end_date != end:
                return f"it extended the end {event.previous_end_date}, which would be {end}"
            if end is not None and event.new_end_date <= end:
                return f"the contract would already run until {end}"
            if extent is None or event.new_end_date > extent:
                return f"its maximum extent date would be {extent}"
        case ce.ContractAmended():
            new_end = event.new_end_date or end
            new_extent = event.new_max_extent_date or extent
            if new_end is not None and new_extent is not None and new_end > new_extent:
                return f"the contract would run until {new_end}, past its maximum extent"
        case ce.ContractTransferred():
            # Whom it came from is part of the fact (notifications, OCDS and audit show it).
            if event.from_authority != state.contracting_authority:
                return (
                    f"it transferred it from {event.from_authority}, but the contract would"
                    f" belong to {state.contracting_authority}"
                )
            if event.to_authority == state.contracting_authority:
                return f"the contract would already belong to {event.to_authority}"
    return None


# The statuses a tender's own facts were decided in (`registry.domain.tender_decide`).
_P, _PUB, _PAU = TenderStatus.PLANNED, TenderStatus.PUBLISHED, TenderStatus.PAUSED
_CANCELLED = LotStatus.CANCELLED
_TENDER_STATUSES: dict[type[DomainEvent], tuple[TenderStatus, ...]] = {
    te.TenderPlanRevised: (_P,),
    te.PriorInformationNoticePublished: (_P,),
    te.MarketConsultationHeld: (_P,),
    te.TenderPublished: (_P,),
    te.TenderCorrected: (_PUB, _PAU),
    te.TenderClarified: (_PUB, _PAU),
    te.TenderPaused: (_P, _PUB),
    te.TenderResumed: (_PAU,),
    te.TenderCancelled: (_P, _PUB, _PAU),
}


_OPEN, _BIDS = LotStatus.OPEN, LotStatus.BIDS_RECEIVED
_PROVISIONAL = LotStatus.PROVISIONALLY_AWARDED
# The statuses of its lot each award step was decided in (`registry.domain.award_decide`).
_LOT_STATUSES: dict[type[DomainEvent], tuple[LotStatus, ...]] = {
    ae.BidsRecorded: (_OPEN,),
    ae.ProvisionalAwardDecided: (_BIDS,),
    ae.ProvisionalAwardRevised: (_PROVISIONAL,),
    ae.ProvisionalAwardWithdrawn: (_PROVISIONAL,),
    ae.ReviewProceedingsStarted: (_PROVISIONAL,),
    ae.StandstillEnded: (_PROVISIONAL,),
    ae.AwardMadeDefinitive: (_PROVISIONAL,),
    te.LotCancelled: (_OPEN, _BIDS, _PROVISIONAL),
}


def tender(state: TenderState, event: DomainEvent, day: date) -> str | None:
    allowed = _TENDER_STATUSES.get(type(event))
    if allowed is not None and state.status not in allowed:
        return f"the tender would be {state.status}"
    if isinstance(event, te.TenderCancelled):
        still_open = [
            lot.lot_id for lot in state.lots if lot.status not in (_CANCELLED, LotStatus.AWARDED)
        ]
        if sorted(event.lot_ids) != sorted(still_open):
            return f"it cancelled lots {event.lot_ids}, but the open lots would be {still_open}"
        return None
    statuses = _LOT_STATUSES.get(type(event))
    if statuses is None and not isinstance(event, ae.ReviewProceedingsConcluded):
        return None
    lot = next((lot for lot in state.lots if lot.lot_id == getattr(event, "lot_id", None)), None)
    if lot is None:
        return None  # the published fold refuses it
    if not isinstance(event, te.LotCancelled) and state.status is not _PUB:
        return f"the tender would be {state.status}"
    if statuses is not None and lot.status not in statuses:
        return f"lot {lot.lot_id} would be {lot.status}"
    return _lot_problem(lot, event, day)


def _lot_problem(lot: LotState, event: DomainEvent, day: date) -> str | None:
    match event:
        case ae.ReviewProceedingsStarted() if lot.review_pending:
            return f"review proceedings on lot {lot.lot_id} would be pending"
        case ae.ReviewProceedingsConcluded() if not lot.review_pending:
            return f"no review proceedings on lot {lot.lot_id} would be pending"
        case ae.AwardMadeDefinitive():
            if lot.review_pending:
                return f"review proceedings on lot {lot.lot_id} would be pending"
            if lot.standstill_ends_on is not None and day <= lot.standstill_ends_on:
                return (
                    f"the standstill of lot {lot.lot_id} would run until {lot.standstill_ends_on}"
                )
            if tuple(event.supplier_ids) != lot.supplier_ids:
                return f"lot {lot.lot_id} would be awarded to {list(lot.supplier_ids)}"
        case ae.StandstillEnded():
            # Decided with no review pending, after the standstill, and its day is the fact.
            if lot.review_pending:
                return f"review proceedings on lot {lot.lot_id} would be pending"
            if lot.standstill_ended:
                return f"the standstill of lot {lot.lot_id} would have ended already"
            if event.ended_on != lot.standstill_ends_on:
                return (
                    f"it ended a standstill running until {event.ended_on}, which would run"
                    f" until {lot.standstill_ends_on}"
                )
            if lot.standstill_ends_on is not None and day <= lot.standstill_ends_on:
                return (
                    f"the standstill of lot {lot.lot_id} would run until {lot.standstill_ends_on}"
                )
        case ae.ProvisionalAwardRevised() if tuple(event.previous_supplier_ids) != lot.supplier_ids:
            return f"lot {lot.lot_id} would be awarded to {list(lot.supplier_ids)}"
        case ae.ProvisionalAwardWithdrawn() if tuple(event.supplier_ids) != lot.supplier_ids:
            return f"lot {lot.lot_id} would be awarded to {list(lot.supplier_ids)}"
    return None


def enrolment_window(state: EnrolmentWindowState, event: DomainEvent, day: date) -> str | None:
    match event:
        case en.ParticipantEnrolled() | en.ParticipantWithdrawn() if state.frozen:
            return f"the participant list would be frozen since {state.frozen_on}"
        case en.ParticipantListFrozen():
            listed = {p.organisation_code: frozenset(p.lot_ids) for p in event.participants}
            enrolled = dict(state.enrolled)
            if listed != enrolled:
                changed = sorted(set(listed) ^ set(enrolled)) or sorted(
                    code for code in listed if listed[code] != enrolled.get(code)
                )
                return f"it would not list the participants enrolled by then ({', '.join(changed)})"
    return None


def organisation(state: OrganisationState, event: DomainEvent, day: date) -> str | None:
    if isinstance(event, en.OrganisationRenamed | en.MunicipalityMerged) and state.merged:
        return f"it would have merged into {state.successor_code} on {state.merged_on}"
    if isinstance(event, en.OrganisationRenamed) and event.previous_name != state.name:
        # Readers that keep the latest name recorded (the notifier, the reference-data
        # update) would read another name than every view.
        return f"it renamed {event.previous_name!r}, but the name would be {state.name!r}"
    return None


PROBLEMS: dict[tuple[str, str], Problem] = {
    ("registry", "contract"): contract,
    ("registry", "tender"): tender,
    ("enrolment", "enrolment_window"): enrolment_window,
    ("enrolment", "organisation"): organisation,
}


def began(state: Any) -> bool:
    """Whether the aggregate exists in `state` (its first fact folded): planned, signed,
    registered, opened, started."""
    for name in ("exists", "registered", "opened"):
        value = getattr(state, name, None)
        if value is not None:
            return bool(value)
    return True


def problem(
    context: str, aggregate_type: str, state: Any, event: DomainEvent, day: date
) -> str | None:
    """Why `event`, valid on `day`, would no longer apply on `state` (None: it still does)."""
    check = PROBLEMS.get((context, aggregate_type))
    return None if check is None else check(state, event, day)
