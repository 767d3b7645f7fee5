"""A contract (framework, call-off, plain, negotiated terms) through its life."""

from __future__ import annotations

from datetime import date

from audit.views.base import State, View, day, take
from contracts_schema.envelope import EventEnvelope

SIGNED_FIELDS = (
    "kind", "tender_id", "lot_ids", "contracting_authority", "paying_agent", "suppliers",
    "signed_on", "start_date", "end_date", "max_extent_date", "value_eur", "title",
    "framework_contract_id",
)  # fmt: skip


def signed(state: State, e: EventEnvelope) -> State:
    take(state, e.payload, *SIGNED_FIELDS)
    state["state"] = "signed"
    return state


def extended(state: State, e: EventEnvelope) -> State:
    state["end_date"] = e.payload["new_end_date"]
    return state


def amended(state: State, e: EventEnvelope) -> State:
    p = e.payload
    state.setdefault("amendments", []).append(p.get("summary"))
    for new, field in (("new_end_date", "end_date"), ("new_max_extent_date", "max_extent_date"),
                       ("new_value_eur", "value_eur")):  # fmt: skip
        if p.get(new) is not None:
            state[field] = p[new]
    return state


def transferred(state: State, e: EventEnvelope) -> State:
    p = e.payload
    state["contracting_authority"] = p["to_authority"]
    state["paying_agent"] = p.get("paying_agent", state.get("paying_agent"))
    state.setdefault("transfers", []).append(
        {"from": p["from_authority"], "to": p["to_authority"], "on": p.get("transferred_on")}
    )
    return state


def terminated(state: State, e: EventEnvelope) -> State:
    take(state, e.payload, "terminated_on", "reason")
    state["state"] = "terminated"
    return state


def expired(state: State, e: EventEnvelope) -> State:
    take(state, e.payload, "expired_on")
    state["state"] = "expired"
    return state


def derive(state: State, as_of: date) -> State:
    if state.get("state") != "signed":
        return state
    start, end = day(state.get("start_date")), day(state.get("end_date"))
    if start is not None and as_of < start:
        state["running"] = "not_started"
    elif end is not None and as_of > end:
        state["running"] = "past_end_date"
    else:
        state["running"] = "running"
    return state


CONTRACT = View(
    "contract",
    {
        "ContractSigned": signed,
        "ContractExtended": extended,
        "ContractAmended": amended,
        "ContractTransferred": transferred,
        "ContractTerminated": terminated,
        "ContractExpired": expired,
    },
    derive,
)
