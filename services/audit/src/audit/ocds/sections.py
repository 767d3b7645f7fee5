"""OCDS objects drawn from the owners' fold states (pure): tender, lots, awards, contracts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from audit.bitemporal import LOCAL_ZONE
from audit.ocds import codes
from audit.ocds.identifiers import identifier
from contracts_schema.calendar import end_of_dutch_day
from contracts_schema.enrolment.state import EnrolmentWindowState
from contracts_schema.folds import FOLDS
from contracts_schema.registry.state import (
    ContractState,
    ContractStatus,
    LotState,
    TenderState,
)

Release = dict[str, Any]
CLEARED: Any = type("Cleared", (), {"__repr__": lambda self: "CLEARED"})()  # a null to send


def instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def on_day(value: date | None) -> str | None:
    """A date-only start (or event day) as the first instant of that Dutch day."""
    if value is None:
        return None
    return datetime.combine(value, time(0), tzinfo=LOCAL_ZONE).isoformat()


def until_day(value: date | None) -> str | None:
    """A date-only end ("last day of the contract") as the last second of that Dutch day,
    not its midnight, which would end the period a day early."""
    if value is None:
        return None
    return end_of_dutch_day(value).replace(microsecond=0).isoformat()


def period(start: date | None, end: date | None, **extra: date | None) -> dict[str, Any]:
    return {"startDate": on_day(start), "endDate": until_day(end),
            **{k: until_day(v) for k, v in extra.items()}}  # fmt: skip


def amount(value: Decimal | None) -> dict[str, Any] | None:
    if value is None:
        return None
    number = int(value) if value == value.to_integral_value() else float(value)
    return {"amount": number, "currency": "EUR"}


@dataclass
class Process:
    """One tender's contracting process: the owners' states so far, and OCDS bookkeeping."""

    process_id: str
    names: dict[str, str]
    tender: TenderState = field(init=False)
    window: EnrolmentWindowState = field(init=False)
    contracts: dict[str, ContractState] = field(default_factory=dict)
    awards: dict[str, str] = field(default_factory=dict)  # lot -> current award id
    revisions: dict[str, int] = field(default_factory=dict)
    contract_awards: dict[str, str] = field(default_factory=dict)  # contract -> award id
    award_values: dict[str, Decimal] = field(default_factory=dict)  # award -> signed value
    roles: dict[str, list[str]] = field(default_factory=dict)
    # What imported data did not state (the registry recorded its default) is left out
    # (import17); whether it is stated is the tender fold's (import18, import19, import20:
    # a later release may state it, or no longer).

    def __post_init__(self) -> None:
        self.tender = FOLDS["registry", "tender"].initial(self.process_id)
        self.window = FOLDS["enrolment", "enrolment_window"].initial(self.process_id)

    def party(self, code: str, *roles: str) -> dict[str, Any]:
        # `roles` is replaced whole when releases merge: always send every role so far.
        known = self.roles.setdefault(code, [])
        known.extend(r for r in roles if r not in known)
        return self.described(code)

    def drop_role(self, code: str, role: str) -> dict[str, Any]:
        """A party that lost a role (a revised award without it): its roles, shrunk."""
        known = self.roles.setdefault(code, [])
        if role in known:
            known.remove(role)
        return self.described(code)

    def described(self, code: str) -> dict[str, Any]:
        name = self.names.get(code, code)
        return {"id": code, "name": name, "identifier": identifier(code, name),
                "roles": list(self.roles.get(code, []))}  # fmt: skip

    def ref(self, code: str) -> dict[str, str]:
        return {"id": code, "name": self.names.get(code, code)}


def lot(state: TenderState, one: LotState, signed: bool = False) -> dict[str, Any]:
    status = codes.lot_status(one.status, state.phase, signed)
    # A title the imported source did not state is left out, as it was there (import30).
    return {"id": one.lot_id, "title": one.title if one.title_stated else None, "status": status}


def tender_period(p: Process) -> dict[str, Any] | None:
    """The enrolment window (when participants could join) as the tender period; without
    one, from publication to the last day bids were received; before publication, as a
    published plan had it. A publication day the source did not state is left out (the
    plan's start, sent before, then stays the compiled one, as it does in the source)."""
    w, t = p.window, p.tender
    if w.opens_on is not None:
        return period(w.opens_on, w.closes_on)
    received = [one.received_on for one in t.lots if one.received_on is not None]
    if t.published_on is None:
        start = t.tender_period_planned_on
    else:
        start = t.published_on if t.published_on_stated else None
    if start is None and not received:
        return None
    return period(start, max(received) if received else None)


def tenderers(t: TenderState) -> int | None:
    """numberOfTenderers: the distinct bidders when named, else the one lot's bid count (a
    sum over lots would count a tenderer on two lots twice)."""
    named = {b for one in t.lots for b in one.bidder_ids}
    if named:
        return len(named)
    counts = [one.bid_count for one in t.lots if one.bid_count is not None]
    if len(t.lots) == 1 and counts:
        return counts[0]
    return None


def bid_statistics(t: TenderState) -> dict[str, Any] | None:
    """bid extension: the bids received per lot."""
    statistics = [
        {"id": f"{one.lot_id}-bids", "measure": "bids", "value": one.bid_count,
         "date": on_day(one.received_on), "relatedLot": one.lot_id}
        for one in t.lots
        if one.bid_count is not None
    ]  # fmt: skip
    return {"statistics": statistics} if statistics else None


def tender(p: Process, **extra: Any) -> dict[str, Any]:
    """The tender as the fold has it now; every lot, always (an empty or partial list would
    drop lots when releases merge)."""
    t = p.tender
    phase = t.phase
    details = f"{phase.value}: {t.cancellation_reason}" if t.cancellation_reason else phase.value
    signed_lots = {lot for c in p.contracts.values() if c.exists for lot in c.lot_ids}
    lots = [lot(t, one, one.lot_id in signed_lots) for one in t.lots]
    stated = t.procedure_stated
    method = codes.method(t.procedure, t.published_on is not None) if stated else None
    return {
        "id": t.tender_id,
        "title": (t.title or None) if t.title_stated else None,
        "status": codes.process_status(phase, [x["status"] for x in lots]),
        "statusDetails": details,
        "procurementMethod": method,
        "procurementMethodDetails": t.procedure if stated else None,
        "tenderPeriod": tender_period(p),
        "numberOfTenderers": tenderers(t),
        "lots": lots,
        **extra,
    }


def award(p: Process, one: LotState, award_id: str) -> dict[str, Any]:
    provisional = one.awarded_on is None
    return {
        "id": award_id,
        "status": codes.award_status(one.status),
        "date": on_day(one.decision_sent_on if provisional else one.awarded_on),
        "suppliers": [p.ref(s) for s in one.supplier_ids],
        "relatedLots": [one.lot_id],
        "description": (
            f"Standstill period until {one.standstill_ends_on}." if provisional else CLEARED
        ),
    }


def contract_title(p: Process, c: ContractState) -> str:
    """The contract's own title, else one made of its tender's and lots' titles, of those
    stated (import30: a default recorded for an unstated title is no name to publish)."""
    if c.title:
        return c.title
    t = p.tender
    lots = ", ".join(one.title for one in t.lots if one.lot_id in c.lot_ids and one.title_stated)
    base = (t.title if t.title_stated else None) or c.contract_id
    return f"{base}: {lots}" if lots else base


def contract(p: Process, c: ContractState, **extra: Any) -> dict[str, Any]:
    ended = c.status is not ContractStatus.ACTIVE
    return {
        "id": c.contract_id,
        "awardID": p.contract_awards.get(c.contract_id, f"{c.contract_id}-award"),
        "title": contract_title(p, c),
        "status": codes.contract_status(c.status),
        "statusDetails": (c.end_reason or c.status.value) if ended else None,
        # Not stated by an imported source: left out (review18a), as the source left it.
        "dateSigned": on_day(c.signed_on) if c.signed_on_stated else None,
        "period": period(
            c.start_date if c.start_stated else None,
            c.end_date if c.end_stated else None,  # no end stated: left out (import33)
            maxExtentDate=c.max_extent_date,
        ),
        "value": amount(c.value_eur),
        **extra,
    }
