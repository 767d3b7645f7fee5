"""The owners' fold enums as OCDS 1.1.5 codes: the one place our words meet OCDS's.

Closed codelists: tenderStatus (also for lots), awardStatus, contractStatus, method.
"""

from __future__ import annotations

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

CALL_OFF_METHOD: dict[CallOffProcedure, str] = {
    "direct": "limited",
    "mini_competition": "selective",
}


def tender_status(phase: TenderPhase) -> str:
    return TENDER_STATUS[phase]


def lot_status(status: LotStatus, phase: TenderPhase) -> str:
    return LOT_STATUS[status] or tender_status(phase)


def award_status(status: LotStatus) -> str:
    return AWARD_STATUS.get(status, AWARD_CANCELLED)


def contract_status(status: ContractStatus) -> str:
    return CONTRACT_STATUS[status]
