"""Organisations, enrolment windows and call-offs (enrolment context)."""

from __future__ import annotations

from datetime import date

from audit.views.base import State, View, day, take
from contracts_schema.envelope import EventEnvelope


def registered(state: State, e: EventEnvelope) -> State:
    return take(state, e.payload, "code", "name", "kind", "province")


def renamed(state: State, e: EventEnvelope) -> State:
    return take(state, e.payload, "name")


def merged(state: State, e: EventEnvelope) -> State:
    take(state, e.payload, "successor_code")
    state["merged_on"] = e.payload.get("effective_on")
    return state


def window_opened(state: State, e: EventEnvelope) -> State:
    take(state, e.payload, "lot_ids", "opens_on", "closes_on", "previous_round_tender_id")
    state["participants"] = {}
    state["frozen"] = False
    return state


def window_extended(state: State, e: EventEnvelope) -> State:
    return take(state, e.payload, "closes_on")


def enrolled(state: State, e: EventEnvelope) -> State:
    p = e.payload
    state.setdefault("participants", {})[p["organisation_code"]] = {
        "lot_ids": list(p.get("lot_ids", [])),
        "power_of_attorney_ref": p.get("power_of_attorney_ref"),
    }
    return state


def withdrawn(state: State, e: EventEnvelope) -> State:
    state.setdefault("participants", {}).pop(e.payload["organisation_code"], None)
    return state


def frozen(state: State, e: EventEnvelope) -> State:
    p = e.payload
    state["frozen"] = True
    state["frozen_on"] = p.get("frozen_on")
    state["participants"] = {
        x["organisation_code"]: {"lot_ids": list(x.get("lot_ids", []))}
        for x in p.get("participants", [])
    }
    return state


def organisation_derive(state: State, as_of: date) -> State:
    merged_on = day(state.get("merged_on"))
    state["active"] = state.get("exists", False) and (merged_on is None or as_of < merged_on)
    return state


CALL_OFF_FIELDS = (
    "framework_contract_id", "tender_id", "lot_id", "participant_code", "supplier_id",
    "awarded_on", "procedure", "start_date", "end_date", "value_eur",
)  # fmt: skip


def call_off_awarded(state: State, e: EventEnvelope) -> State:
    return take(state, e.payload, *CALL_OFF_FIELDS)


ORGANISATION = View(
    "organisation",
    {
        "OrganisationRegistered": registered,
        "OrganisationRenamed": renamed,
        "MunicipalityMerged": merged,
    },
    organisation_derive,
)
ENROLMENT_WINDOW = View(
    "enrolment_window",
    {
        "EnrolmentWindowOpened": window_opened,
        "EnrolmentWindowExtended": window_extended,
        "ParticipantEnrolled": enrolled,
        "ParticipantWithdrawn": withdrawn,
        "ParticipantListFrozen": frozen,
    },
)
CALL_OFF = View("call_off", {"CallOffAwarded": call_off_awarded})
