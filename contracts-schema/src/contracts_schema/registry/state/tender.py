"""The tender aggregate as the registry folds it: what each tender event means."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from contracts_schema.base import DomainEvent
from contracts_schema.errors import FoldError
from contracts_schema.frozen import replace
from contracts_schema.registry import tender_events as ev
from contracts_schema.registry.import_events import LawFinding, TenderReleaseImported
from contracts_schema.registry.state.lot import LOT_EVENTS, LotState, LotStatus, evolve_lot
from contracts_schema.registry.values import Procedure


class TenderStatus(StrEnum):
    """The tender's own lifecycle; the awards of its lots are in `TenderState.phase`."""

    PLANNED = "planned"
    PUBLISHED = "published"
    PAUSED = "paused"
    CANCELLED = "cancelled"


class TenderPhase(StrEnum):
    PLANNED = "planned"
    PUBLISHED = "published"
    PAUSED = "paused"
    PROVISIONALLY_AWARDED = "provisionally_awarded"
    AWARDED = "awarded"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Notice:
    """A correction (rectificatie) or clarification (nota van inlichtingen)."""

    on: date
    summary: str
    notice_reference: str | None = None


@dataclass(frozen=True)
class TenderState:
    tender_id: str
    programme_id: str | None = None
    title: str = ""
    # False: imported data stated no title (`title` is the registry's default, the ocid), or
    # a later release no longer states one (import30).
    title_stated: bool = True
    contracting_authority: str = ""
    procedure: Procedure | None = None
    # False: imported data stated none, `procedure` is the registry's default (import17).
    procedure_stated: bool = True
    framework: bool = False
    status: TenderStatus = TenderStatus.PLANNED  # meaningful once `exists`
    status_before_pause: TenderStatus | None = None
    planned_on: date | None = None
    # A published plan's tender period start (TenderPlanned; a TenderPlanRevised since).
    tender_period_planned_on: date | None = None
    prior_notice_published_on: date | None = None
    prior_notice_reference: str | None = None
    market_consultation_started_on: date | None = None
    market_consultation_ended_on: date | None = None
    market_consultation_summary: str | None = None
    published_on: date | None = None
    # False: imported data published it without a tenderPeriod.startDate, `published_on`
    # is the registry's default (import17), or a later release no longer states it (import20).
    published_on_stated: bool = True
    notice_reference: str | None = None
    participant_list_frozen_on: date | None = None
    participant_codes: tuple[str, ...] = ()
    corrections: tuple[Notice, ...] = ()
    clarifications: tuple[Notice, ...] = ()
    paused_on: date | None = None
    pause_reason: str | None = None
    resumed_on: date | None = None
    resume_reason: str | None = None
    cancelled_on: date | None = None
    cancellation_reason: str | None = None
    successor_tender_ids: tuple[str, ...] = ()
    lots: tuple[LotState, ...] = ()  # in the order of TenderPlanned
    # Imported from published OCDS data: the source process, and what the rules found.
    source_ocid: str | None = None
    source_release_ids: tuple[str, ...] = ()
    law_findings: tuple[LawFinding, ...] = ()

    @property
    def exists(self) -> bool:
        return self.planned_on is not None

    @property
    def lot_ids(self) -> tuple[str, ...]:
        return tuple(lot.lot_id for lot in self.lots)

    def lot(self, lot_id: str) -> LotState | None:
        return next((lot for lot in self.lots if lot.lot_id == lot_id), None)

    def planned_as(self, event: ev.TenderPlanned) -> bool:
        """Whether `event` plans it again as it was planned (on whatever day)."""
        return (
            self.programme_id,
            self.title,
            self.contracting_authority,
            self.procedure,
            self.framework,
            tuple((lot.lot_id, lot.title) for lot in self.lots),
        ) == (
            event.programme_id,
            event.title,
            event.contracting_authority,
            event.procedure,
            event.framework,
            tuple((lot.lot_id, lot.title) for lot in event.lots),
        )

    @property
    def phase(self) -> TenderPhase:
        if self.status is TenderStatus.CANCELLED:
            return TenderPhase.CANCELLED
        if self.status is TenderStatus.PAUSED:
            return TenderPhase.PAUSED
        live = [lot.status for lot in self.lots if lot.status is not LotStatus.CANCELLED]
        if live and all(s is LotStatus.AWARDED for s in live):
            return TenderPhase.AWARDED
        if any(s in (LotStatus.PROVISIONALLY_AWARDED, LotStatus.AWARDED) for s in live):
            return TenderPhase.PROVISIONALLY_AWARDED
        return TenderPhase(self.status.value)

    def with_lot(self, changed: LotState) -> TenderState:
        lots = tuple(changed if lot.lot_id == changed.lot_id else lot for lot in self.lots)
        return replace(self, lots=lots)


def initial(tender_id: str) -> TenderState:
    return TenderState(tender_id=tender_id)


HANDLED: frozenset[type[DomainEvent]] = frozenset(
    {*ev.TENDER_EVENTS, *LOT_EVENTS, TenderReleaseImported}
)
IGNORED: frozenset[type[DomainEvent]] = frozenset()


def evolve(state: TenderState, event: DomainEvent) -> TenderState:
    if isinstance(event, ev.TenderPlanned):
        unknown = set(event.untitled_lot_ids) - {lot.lot_id for lot in event.lots}
        if unknown:
            raise _error(state, event, f"it marks no lot of its own: {', '.join(sorted(unknown))}")
        if not state.exists:
            return _planned(event)
        if not state.planned_as(event):
            raise _error(state, event, "the tender was already planned")
        # The same planning again, dated back: planned from the earlier of the two days (the
        # same state in either order of folding).
        assert state.planned_on is not None
        return replace(state, planned_on=min(state.planned_on, event.planned_on))
    if type(event) in IGNORED:
        return state
    if not isinstance(event, ev.TenderEvent) or type(event) not in HANDLED:
        raise _error(state, event, "it is not an event of the tender aggregate")
    if not state.exists:
        raise _error(state, event, "the tender was never planned")
    match event:
        case ev.TenderPlanRevised():
            return replace(state, tender_period_planned_on=event.tender_period_planned_on)
        case ev.TenderRestated():
            return _restated(state, event)
        case ev.PriorInformationNoticePublished():
            return replace(
                state,
                prior_notice_published_on=event.published_on,
                prior_notice_reference=event.notice_reference,
            )
        case ev.MarketConsultationHeld():
            return replace(
                state,
                market_consultation_started_on=event.started_on,
                market_consultation_ended_on=event.ended_on,
                market_consultation_summary=event.summary,
            )
        case ev.TenderPublished():
            return replace(
                state,
                status=TenderStatus.PUBLISHED,
                published_on=event.published_on,
                published_on_stated=event.published_on_stated,
                notice_reference=event.notice_reference,
                participant_list_frozen_on=event.participant_list_frozen_on,
                participant_codes=tuple(event.participant_codes),
                # Published with another procedure than planned, or one first stated here.
                **(
                    {}
                    if event.procedure is None
                    else {"procedure": event.procedure, "procedure_stated": True}
                ),
            )
        case ev.TenderCorrected():
            note = Notice(event.corrected_on, event.summary, event.notice_reference)
            return replace(state, corrections=(*state.corrections, note))
        case ev.TenderClarified():
            note = Notice(event.clarified_on, event.summary)
            return replace(state, clarifications=(*state.clarifications, note))
        case ev.TenderPaused():
            return replace(
                state,
                status=TenderStatus.PAUSED,
                status_before_pause=state.status,
                paused_on=event.paused_on,
                pause_reason=event.reason,
            )
        case ev.TenderResumed():
            if state.status_before_pause is None:
                raise _error(state, event, "the tender is not paused")
            return replace(
                state,
                status=state.status_before_pause,
                status_before_pause=None,
                resumed_on=event.resumed_on,
                resume_reason=event.reason,
            )
        case ev.LotCancelled():
            lot = _lot(state, event.lot_id, event)
            return state.with_lot(lot.cancelled(event.cancelled_on, event.reason))
        case ev.TenderCancelled():
            cancelled = replace(
                state,
                status=TenderStatus.CANCELLED,
                status_before_pause=None,
                cancelled_on=event.cancelled_on,
                cancellation_reason=event.reason,
            )
            for lot_id in event.lot_ids:
                lot = _lot(state, lot_id, event)
                cancelled = cancelled.with_lot(lot.cancelled(event.cancelled_on, event.reason))
            return cancelled
        case TenderReleaseImported():
            return replace(
                state,
                source_ocid=event.ocid,
                source_release_ids=(*state.source_release_ids, event.release_id),
                law_findings=with_findings(state.law_findings, event.findings),
            )
        case ev.SuccessorTenderLinked():
            successors = (*state.successor_tender_ids, event.successor_tender_id)
            return replace(state, successor_tender_ids=successors)
    if isinstance(event, LOT_EVENTS):
        return state.with_lot(evolve_lot(_lot(state, event.lot_id, event), event))
    raise _error(state, event, "the tender fold does not say what it means")


def with_findings(known: tuple[LawFinding, ...], found: list[LawFinding]) -> tuple[LawFinding, ...]:
    """Findings so far plus the new ones, each once (a later release may find it again)."""
    return (*known, *(f for f in dict.fromkeys(found) if f not in known))


def _restated(state: TenderState, event: ev.TenderRestated) -> TenderState:
    """A published release restated what was recorded (import20): only what it gives."""
    _consistent(state, event)
    changes: dict[str, object] = {}
    if event.title is not None:
        changes["title"], changes["title_stated"] = event.title, True
    elif event.title_stated is not None:
        changes["title_stated"] = event.title_stated
    if event.framework is not None:
        changes["framework"] = event.framework
    if event.procedure is not None:
        changes["procedure"], changes["procedure_stated"] = event.procedure, True
    elif event.procedure_stated is not None:
        changes["procedure_stated"] = event.procedure_stated
    published = state.published_on is not None
    if event.tender_period_start is not None:
        if published:
            changes["published_on"] = event.tender_period_start
            changes["published_on_stated"] = True
        else:
            changes["tender_period_planned_on"] = event.tender_period_start
    elif event.tender_period_start_cleared:
        # Nothing stated is shown: a publication day stays (the rules need one), not stated.
        changes["tender_period_planned_on"] = None
        if published:
            changes["published_on_stated"] = False
    restated = replace(state, **changes) if changes else state
    for lot in event.lots:
        one = _lot(state, lot.lot_id, event)
        restated = restated.with_lot(replace(one, title=lot.title, title_stated=True))
    for lot_id in event.untitled_lot_ids:  # no longer stated: the recorded title stays
        restated = restated.with_lot(replace(_lot(state, lot_id, event), title_stated=False))
    return restated


def _consistent(state: TenderState, event: ev.TenderRestated) -> None:
    """A restatement that says a title is both stated and not, or stated without giving it
    (which would make the registry's default, the ocid, a published title), means nothing
    (import32): refused, as an imported fact is folded before it is recorded."""
    if event.title is not None and event.title_stated is False:
        raise _error(state, event, "it gives a title and says none is stated")
    if event.title is None and event.title_stated is True:
        raise _error(state, event, "it says a title is stated without giving one")
    both = {lot.lot_id for lot in event.lots} & set(event.untitled_lot_ids)
    if both:
        raise _error(state, event, f"it titles and untitles lot {', '.join(sorted(both))}")


def _planned(event: ev.TenderPlanned) -> TenderState:
    untitled = set(event.untitled_lot_ids)
    return TenderState(
        tender_id=event.tender_id,
        programme_id=event.programme_id,
        title=event.title,
        title_stated=event.title_stated,
        contracting_authority=event.contracting_authority,
        procedure=event.procedure,
        procedure_stated=event.procedure_stated,
        framework=event.framework,
        planned_on=event.planned_on,
        tender_period_planned_on=event.tender_period_planned_on,
        lots=tuple(
            LotState(lot.lot_id, lot.title, title_stated=lot.lot_id not in untitled)
            for lot in event.lots
        ),
    )


def _lot(state: TenderState, lot_id: str, event: DomainEvent) -> LotState:
    lot = state.lot(lot_id)
    if lot is None:
        raise _error(state, event, f"it has no lot {lot_id} (its lots: {', '.join(state.lot_ids)})")
    return lot


def _error(state: TenderState, event: DomainEvent, why: str) -> FoldError:
    return FoldError(f"{event.event_type} cannot apply to tender {state.tender_id}: {why}")
