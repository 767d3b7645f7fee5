"""The owners' fold enums as OCDS 1.1.5 codes: the one place our words meet OCDS's.

Closed codelists: tenderStatus (also for lots), awardStatus, contractStatus, method.
"""

from __future__ import annotations

from collections.abc import Iterable

from contracts_schema.enrolment.events import CallOffProcedure
from contracts_schema.registry.state import ContractStatus, LotStatus, TenderPhase
from contracts_schema.registry.values import Procedure

TENDER_STATUS: dict[TenderPhase, str] = {
    TenderPhase.PLANNED: "planning",
    TenderPhase.PUBLISHED: "active",
    TenderPhase.PAUSED: "active",  # still open; statusDetails says paused
    TenderPhase.PROVISIONALLY_AWARDED: "active",  # the standstill may still change the award
    TenderPhase.AWARDED: "complete",
    TenderPhase.CANCELLED: "cancelled",
}

# A lot's status uses the tenderStatus codelist; an open lot is as far as its tender.
LOT_STATUS: dict[LotStatus, str | None] = {
    LotStatus.OPEN: None,
    LotStatus.BIDS_RECEIVED: "active",
    LotStatus.PROVISIONALLY_AWARDED: "active",
    LotStatus.AWARDED: "complete",
    LotStatus.CANCELLED: "cancelled",
}

# The award of a lot: pending while provisional (the standstill has not ended, DOMAIN.md).
AWARD_STATUS: dict[LotStatus, str] = {
    LotStatus.PROVISIONALLY_AWARDED: "pending",
    LotStatus.AWARDED: "active",
}
AWARD_CANCELLED = "cancelled"  # a revised or withdrawn provisional award

CONTRACT_STATUS: dict[ContractStatus, str] = {
    ContractStatus.ACTIVE: "active",
    ContractStatus.TERMINATED: "terminated",
    ContractStatus.EXPIRED: "terminated",  # statusDetails says expired
}

METHOD: dict[Procedure, str | None] = {
    "open": "open",
    "restricted": "selective",
    "competitive_procedure_with_negotiation": "selective",
    "competitive_dialogue": "selective",
    "negotiated_without_publication": "limited",
    "national": None,  # a national procedure can be any of them
}

# A national procedure (nationale procedure) is open or by invitation: without more, OCDS's
# nearest is "open" when it was published, "limited" when it was not (see `method`).
NATIONAL_PUBLISHED, NATIONAL_UNPUBLISHED = "open", "limited"

# A direct call-off is awarded without competition (method codelist: direct); a
# mini-competition reopens competition among the framework's suppliers (selective).
CALL_OFF_METHOD: dict[CallOffProcedure, str] = {
    "direct": "direct",
    "mini_competition": "selective",
}

# techniques extension: how a framework's call-offs are awarded.
FRAMEWORK_METHOD: dict[frozenset[CallOffProcedure], str] = {
    frozenset({"direct"}): "withoutReopeningCompetition",
    frozenset({"mini_competition"}): "withReopeningCompetition",
    frozenset({"direct", "mini_competition"}): "withAndWithoutReopeningCompetition",
}


def tender_status(phase: TenderPhase) -> str:
    return TENDER_STATUS[phase]


def process_status(phase: TenderPhase, lot_codes: Iterable[str]) -> str:
    """tenderStatus per the guidance, from the tender's phase and its lots' codes
    (`lot_status`): `cancelled` when the tender was, `unsuccessful` when every lot was
    cancelled without it, `complete` once every live lot is (awarded, or its contract signed:
    it stays complete after that contract ends)."""
    codes = list(lot_codes)
    if phase is TenderPhase.CANCELLED:
        return "cancelled"
    if codes and all(c == "cancelled" for c in codes):
        return "unsuccessful"
    live = [c for c in codes if c != "cancelled"]
    if live and all(c == "complete" for c in live):
        return "complete"
    return TENDER_STATUS[phase]


def method(procedure: Procedure | None, published: bool) -> str | None:
    """procurementMethod (closed codelist) of a tender's procedure."""
    if procedure is None:
        return None
    if procedure == "national":
        return NATIONAL_PUBLISHED if published else NATIONAL_UNPUBLISHED
    return METHOD[procedure]


def lot_status(status: LotStatus, phase: TenderPhase, signed: bool = False) -> str:
    """A lot's tenderStatus; `signed`: a contract for the lot was signed, so its award
    stands (complete) even while the registry has no definitive award recorded."""
    code = LOT_STATUS[status] or tender_status(phase)
    if signed and code == "active" and status is not LotStatus.OPEN:
        return "complete"
    return code


def award_status(status: LotStatus) -> str:
    return AWARD_STATUS.get(status, AWARD_CANCELLED)


def contract_status(status: ContractStatus) -> str:
    return CONTRACT_STATUS[status]
