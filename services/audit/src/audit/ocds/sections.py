"""OCDS objects drawn from the owners' fold states (pure): tender, lots, awards, contracts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from audit.bitemporal import LOCAL_ZONE
from audit.ocds import codes
from contracts_schema.enrolment.state import EnrolmentWindowState
from contracts_schema.folds import FOLDS
from contracts_schema.registry.state import ContractState, ContractStatus, LotState, TenderState

Release = dict[str, Any]


def instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def on_day(value: date | None) -> str | None:
    if value is None:
        return None
    return datetime.combine(value, time(0), tzinfo=LOCAL_ZONE).isoformat()


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
    roles: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.tender = FOLDS["registry", "tender"].initial(self.process_id)
        self.window = FOLDS["enrolment", "enrolment_window"].initial(self.process_id)

    def party(self, code: str, *roles: str) -> dict[str, Any]:
        # `roles` is replaced whole when releases merge: always send every role so far.
        known = self.roles.setdefault(code, [])
        known.extend(r for r in roles if r not in known)
        return {"id": code, "name": self.names.get(code, code), "roles": list(known)}

    def ref(self, code: str) -> dict[str, str]:
        return {"id": code, "name": self.names.get(code, code)}


def lot(state: TenderState, one: LotState) -> dict[str, Any]:
    status = codes.lot_status(one.status, state.phase)
    return {"id": one.lot_id, "title": one.title, "status": status}


def tender(p: Process, **extra: Any) -> dict[str, Any]:
    """The tender as the fold has it now; every lot, always (an empty or partial list would
    drop lots when releases merge)."""
    t = p.tender
    phase = t.phase
    details = f"{phase.value}: {t.cancellation_reason}" if t.cancellation_reason else phase.value
    return {
        "id": t.tender_id,
        "status": codes.tender_status(phase),
        "statusDetails": details,
        "lots": [lot(t, one) for one in t.lots],
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
            f"Standstill period until {one.standstill_ends_on}." if provisional else None
        ),
    }


def contract_title(p: Process, c: ContractState) -> str:
    if c.title:
        return c.title
    lots = ", ".join(one.title for one in p.tender.lots if one.lot_id in c.lot_ids)
    base = p.tender.title or c.contract_id
    return f"{base}: {lots}" if lots else base


def contract(p: Process, c: ContractState, **extra: Any) -> dict[str, Any]:
    ended = c.status is not ContractStatus.ACTIVE
    return {
        "id": c.contract_id,
        "awardID": p.contract_awards.get(c.contract_id, f"{c.contract_id}-award"),
        "title": contract_title(p, c),
        "status": codes.contract_status(c.status),
        "statusDetails": (c.end_reason or c.status.value) if ended else None,
        "dateSigned": on_day(c.signed_on),
        "period": {
            "startDate": on_day(c.start_date),
            "endDate": on_day(c.end_date),
            "maxExtentDate": on_day(c.max_extent_date),
        },
        "value": amount(c.value_eur),
        **extra,
    }
