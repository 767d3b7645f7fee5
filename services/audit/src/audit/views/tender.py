"""The tender as an auditor sees it: phase, lots and their awards (registry context)."""

from __future__ import annotations

from datetime import date

from audit.views.base import Evolve, State, View, day, take
from contracts_schema.envelope import EventEnvelope


def planned(state: State, e: EventEnvelope) -> State:
    p = e.payload
    take(state, p, "title", "programme_id", "contracting_authority", "procedure", "framework")
    take(state, p, "planned_on")
    state["phase"] = "planned"
    lots = state.setdefault("lots", {})
    for lot in p.get("lots", []):
        lots.setdefault(lot["lot_id"], {"lot_id": lot["lot_id"]})["title"] = lot.get("title")
    return state


def published(state: State, e: EventEnvelope) -> State:
    take(state, e.payload, "published_on", "notice_reference")
    state["phase"] = "published"
    return state


def _lot(state: State, lot_id: str) -> State:
    lot: State = state.setdefault("lots", {}).setdefault(lot_id, {"lot_id": lot_id})
    return lot


def provisional(state: State, e: EventEnvelope) -> State:
    p = e.payload
    # A later provisional decision for the same lot revises the earlier one (OT2010 Vast).
    _lot(state, p["lot_id"])["award"] = {
        "status": "provisional",
        "supplier_ids": list(p.get("supplier_ids", [])),
        "decision_sent_on": p.get("decision_sent_on"),
        "standstill_ends_on": p.get("standstill_ends_on"),
    }
    state["phase"] = "provisionally_awarded"
    return state


def definitive(state: State, e: EventEnvelope) -> State:
    p = e.payload
    lot = _lot(state, p["lot_id"])
    award = lot.get("award", {})
    award.update(
        status="definitive",
        supplier_ids=list(p.get("supplier_ids", [])),
        awarded_on=p.get("awarded_on"),
    )
    lot["award"] = award
    awards = [lot.get("award", {}).get("status") for lot in state.get("lots", {}).values()]
    state["phase"] = "awarded" if all(s == "definitive" for s in awards) else "partly_awarded"
    return state


def withdrawn(state: State, e: EventEnvelope) -> State:
    award = _lot(state, e.payload["lot_id"]).setdefault("award", {})
    award["status"] = "withdrawn"
    award["withdrawn_on"] = e.payload.get("withdrawn_on")
    return state


def standstill_ended(state: State, e: EventEnvelope) -> State:
    _lot(state, e.payload["lot_id"]).setdefault("award", {})["standstill_ended_on"] = e.payload.get(
        "ended_on"
    )
    return state


def lot_cancelled(state: State, e: EventEnvelope) -> State:
    lot = _lot(state, e.payload["lot_id"])
    lot["cancelled_on"] = e.payload.get("cancelled_on")
    return state


def status(phase: str, day_field: str) -> Evolve:
    def handler(state: State, e: EventEnvelope) -> State:
        if phase == "resumed":
            state["phase"] = state.pop("phase_before_pause", state.get("phase"))
        else:
            if phase == "paused":
                state["phase_before_pause"] = state.get("phase")
            state["phase"] = phase
        state[f"{phase}_on"] = e.payload.get(day_field)
        take(state, e.payload, "reason")
        return state

    return handler


def corrected(state: State, e: EventEnvelope) -> State:
    take(state, e.payload, "notice_reference")
    state.setdefault("corrections", []).append(e.payload.get("summary"))
    return state


def successor(state: State, e: EventEnvelope) -> State:
    return take(state, e.payload, "successor_tender_id")


def derive(state: State, as_of: date) -> State:
    for lot in state.get("lots", {}).values():
        award = lot.get("award")
        if award and award.get("status") == "provisional":
            ends = day(award.get("standstill_ends_on"))
            award["in_standstill"] = ends is not None and as_of <= ends
    return state


TENDER = View(
    "tender",
    {
        "TenderPlanned": planned,
        "TenderPublished": published,
        "ProvisionalAwardDecided": provisional,
        "AwardMadeDefinitive": definitive,
        "ProvisionalAwardRevised": provisional,
        "ProvisionalAwardWithdrawn": withdrawn,
        "StandstillEnded": standstill_ended,
        "LotCancelled": lot_cancelled,
        "TenderCancelled": status("cancelled", "cancelled_on"),
        "TenderPaused": status("paused", "paused_on"),
        "TenderResumed": status("resumed", "resumed_on"),
        "TenderCorrected": corrected,
        "SuccessorTenderLinked": successor,
    },
    derive,
)
