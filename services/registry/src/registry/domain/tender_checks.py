"""Checks shared by the tender's decisions."""

from __future__ import annotations

from contracts_schema.errors import RuleViolation
from contracts_schema.registry.state import LotState, TenderState, TenderStatus
from registry.domain.rules import not_allowed


def require_status(
    state: TenderState, what: str, allowed: tuple[TenderStatus, ...], when: str
) -> None:
    if state.status not in allowed:
        raise not_allowed(f"{what} of tender {state.tender_id}", str(state.status), when)


def lot_of(state: TenderState, lot_id: str) -> LotState:
    lot = state.lot(lot_id)
    if lot is None:
        raise RuleViolation(
            "UNKNOWN_LOT",
            f"tender {state.tender_id} has no lot {lot_id}; its lots are"
            f" {', '.join(sorted(state.lot_ids))}",
        )
    return lot
