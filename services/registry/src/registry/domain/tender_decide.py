"""Decisions on a tender before the award: plan, notices, publication, pause, cancel, links."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from contracts_schema.base import Command, DomainEvent
from contracts_schema.errors import RuleViolation
from contracts_schema.registry import commands as cmd
from contracts_schema.registry import events as ev
from contracts_schema.registry.state import LotStatus, TenderState, TenderStatus
from contracts_schema.valid_from import first_day_after, why_not_before
from registry.domain.award_decide import decide_award, lot_last_day
from registry.domain.facts import FrozenParticipantList, NamedProgramme, require_known_successor
from registry.domain.rules import DecisionInput, not_allowed, not_before, valid_on
from registry.domain.tender_checks import lot_of, require_status

P, PUB, PAU = TenderStatus.PLANNED, TenderStatus.PUBLISHED, TenderStatus.PAUSED


def decide_tender(
    state: TenderState, command: Command, ctx: DecisionInput
) -> Sequence[DomainEvent]:
    on = valid_on(ctx)
    if isinstance(command, cmd.PlanTender):
        _require_programme(command, ctx.facts)
        return _plan(state, command, on)
    if not isinstance(command, cmd.TenderCommand):
        raise TypeError(f"the tender aggregate does not handle {type(command).__name__}")
    tid = command.tender_id
    if not state.exists:
        raise RuleViolation(
            "TENDER_NOT_FOUND",
            f"tender {tid} has not been planned; plan it before recording anything about it",
        )
    first = first_day_after(on, state.planned_on)
    if first is not None:
        raise RuleViolation(
            "TENDER_NOT_YET_PLANNED",
            why_not_before(
                f"{command.command_type} of tender {tid}",
                on,
                f"the planning of tender {tid}",
                first,
                "Date the fact on or after the planning, or date the planning back first"
                " (send PlanTender again with the same details and the earlier occurredAt).",
            ),
        )
    if isinstance(command, cmd.LotCommand):
        return decide_award(state, command, on)
    match command:
        case cmd.PublishPriorInformationNotice():
            require_status(state, "a prior information notice", (P,), "the tender is planned")
            return [
                ev.PriorInformationNoticePublished(
                    tender_id=tid, published_on=on, notice_reference=command.notice_reference
                )
            ]
        case cmd.HoldMarketConsultation():
            require_status(state, "a market consultation", (P,), "the tender is planned")
            if command.ended_on < command.started_on:
                raise RuleViolation(
                    "INVALID_PERIOD",
                    f"a market consultation cannot end ({command.ended_on})"
                    f" before it starts ({command.started_on})",
                )
            return [
                ev.MarketConsultationHeld(
                    tender_id=tid,
                    started_on=command.started_on,
                    ended_on=command.ended_on,
                    summary=command.summary,
                )
            ]
        case cmd.PublishTender():
            require_status(state, "publication", (P,), "the tender is planned")
            _after_last_status_change(state, on, "publication")
            frozen = _frozen_list(ctx.facts, tid, on)
            return [
                ev.TenderPublished(
                    tender_id=tid,
                    published_on=on,
                    notice_reference=command.notice_reference,
                    participant_list_frozen_on=frozen.frozen_on,
                    participant_codes=list(frozen.participant_codes),
                )
            ]
        case cmd.CorrectTender():
            require_status(state, "a correction", (PUB, PAU), "the tender is published")
            return [
                ev.TenderCorrected(
                    tender_id=tid,
                    corrected_on=on,
                    summary=command.summary,
                    notice_reference=command.notice_reference,
                )
            ]
        case cmd.ClarifyTender():
            require_status(state, "a clarification", (PUB, PAU), "the tender is published")
            return [ev.TenderClarified(tender_id=tid, clarified_on=on, summary=command.summary)]
        case cmd.PauseTender():
            require_status(state, "pausing", (P, PUB), "the tender is planned or published")
            _after_last_status_change(state, on, "pausing")
            return [ev.TenderPaused(tender_id=tid, paused_on=on, reason=command.reason)]
        case cmd.ResumeTender():
            require_status(state, "resuming", (PAU,), "the tender is paused")
            _after_last_status_change(state, on, "resuming")
            return [ev.TenderResumed(tender_id=tid, resumed_on=on, reason=command.reason)]
        case cmd.CancelLot():
            return _cancel_lot(state, command, on)
        case cmd.CancelTender():
            require_status(state, "cancelling", (P, PUB, PAU), "the tender is not yet cancelled")
            _after_last_status_change(state, on, "cancelling")
            for lot in state.lots:  # the open lots are cancelled with it
                if lot.status not in (LotStatus.CANCELLED, LotStatus.AWARDED):
                    not_before(
                        on,
                        lot_last_day(lot),
                        f"cancelling tender {tid}",
                        f"lot {lot.lot_id}'s last fact",
                    )
            open_lots = [
                lot.lot_id
                for lot in state.lots
                if lot.status not in (LotStatus.CANCELLED, LotStatus.AWARDED)
            ]
            return [
                ev.TenderCancelled(
                    tender_id=tid, cancelled_on=on, reason=command.reason, lot_ids=open_lots
                )
            ]
        case cmd.LinkSuccessorTender():
            return _link_successor(state, command, on, ctx.facts)
    raise TypeError(f"the tender aggregate does not handle {type(command).__name__}")


def _after_last_status_change(state: TenderState, on: date, what: str) -> None:
    """Publication, pauses, resumptions and the cancellation follow each other in valid time
    as they were recorded: every view folds them by day, so one dated before the last of
    them would put them in another order there (a resumption before its pause) than here."""
    changes = [
        (day, name)
        for day, name in (
            (state.published_on, "its publication"),
            (state.paused_on, "its pause"),
            (state.resumed_on, "its resumption"),
        )
        if day is not None
    ]
    if changes:
        day, name = max(changes)
        not_before(on, day, f"{what} of tender {state.tender_id}", name)


def _require_programme(command: cmd.PlanTender, facts: object) -> None:
    """A tender is planned under a programme that exists: a mistyped programme id made a
    tender whose `programme` no view could name."""
    pid = command.programme_id
    if pid is None:
        return
    if not isinstance(facts, NamedProgramme) or facts.programme_id != pid:
        raise TypeError("PlanTender under a programme needs the NamedProgramme fact")
    if not facts.planned:
        raise RuleViolation(
            "PROGRAMME_NOT_FOUND",
            f"programme {pid} has not been planned; plan it first (PlanProgramme), or plan"
            f" tender {command.tender_id} without a programme (leave programmeId out)",
        )


def _plan(state: TenderState, command: cmd.PlanTender, on: date) -> list[DomainEvent]:
    planning = ev.TenderPlanned(
        tender_id=command.tender_id,
        programme_id=command.programme_id,
        title=command.title,
        contracting_authority=command.contracting_authority,
        procedure=command.procedure,
        framework=command.framework,
        lots=command.lots,
        planned_on=on,
    )
    if not state.exists:
        return [planning]
    assert state.planned_on is not None
    if on < state.planned_on and state.planned_as(planning):
        # A planning wrongly dated too late, moved earlier: sent again with the same details
        # and the earlier day. Every view folds it as planned from then (either order).
        return [planning]
    raise RuleViolation(
        "TENDER_ALREADY_PLANNED",
        f"tender {command.tender_id} was already planned on {state.planned_on}; a tender id"
        " names one tender. To date its planning back, send PlanTender again with the same"
        " details and the earlier occurredAt",
    )


def _frozen_list(facts: object, tender_id: str, on: date) -> FrozenParticipantList:
    # Directive 2014/24/EU art. 33(2): only bodies identified when the procedure starts may
    # use the framework, so publication waits for the enrolment service's frozen list.
    rule = "EU procurement law (Directive 2014/24/EU art. 33(2)) requires the participants"
    if not isinstance(facts, FrozenParticipantList):
        raise RuleViolation(
            "PARTICIPANT_LIST_NOT_FROZEN",
            f"tender {tender_id} has no frozen participant list; {rule} to be known before"
            " publication, so the enrolment window must be closed and its list frozen first",
        )
    if facts.frozen_on > on:
        raise RuleViolation(
            "PARTICIPANT_LIST_NOT_FROZEN",
            f"the participant list of tender {tender_id} was frozen only on {facts.frozen_on},"
            f" after the publication date {on}; {rule} to be known before publication",
        )
    return facts


def _cancel_lot(state: TenderState, command: cmd.CancelLot, on: date) -> list[DomainEvent]:
    require_status(state, "cancelling a lot", (P, PUB, PAU), "the tender is planned or published")
    lot = lot_of(state, command.lot_id)
    not_before(on, lot_last_day(lot), f"cancelling lot {lot.lot_id}", "its last fact")
    if lot.status in (LotStatus.CANCELLED, LotStatus.AWARDED):
        raise not_allowed(
            f"cancelling lot {lot.lot_id} of tender {state.tender_id}",
            str(lot.status),
            "the lot is not yet cancelled or definitively awarded",
        )
    return [
        ev.LotCancelled(
            tender_id=state.tender_id, lot_id=lot.lot_id, cancelled_on=on, reason=command.reason
        )
    ]


def _link_successor(
    state: TenderState, command: cmd.LinkSuccessorTender, on: date, facts: object
) -> list[DomainEvent]:
    successor = command.successor_tender_id
    if successor == state.tender_id:
        raise RuleViolation(
            "SELF_SUCCESSION", f"tender {successor} cannot succeed itself; name another tender"
        )
    if successor in state.successor_tender_ids:
        raise RuleViolation(
            "SUCCESSOR_ALREADY_LINKED",
            f"tender {successor} is already linked as successor of {state.tender_id}",
        )
    require_known_successor(facts, "tender", successor, state.tender_id)
    return [
        ev.SuccessorTenderLinked(
            tender_id=state.tender_id, successor_tender_id=successor, linked_on=on
        )
    ]
