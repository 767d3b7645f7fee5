"""The contract aggregate's state: a fold over its events."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum

from contracts_schema.base import DomainEvent
from contracts_schema.registry import events as ev


class ContractStatus(StrEnum):
    NEW = "new"
    ACTIVE = "active"
    TERMINATED = "terminated"
    EXPIRED = "expired"


@dataclass(frozen=True)
class ContractState:
    contract_id: str = ""
    status: ContractStatus = ContractStatus.NEW
    kind: str = ""
    contracting_authority: str = ""
    paying_agent: str | None = None
    signed_on: date | None = None
    start_date: date | None = None
    end_date: date | None = None
    max_extent_date: date | None = None
    terminated_on: date | None = None
    expired_on: date | None = None

    def ended_by(self, on: date) -> str | None:
        """Why the contract is no longer in force on a day (valid time), or None."""
        if self.terminated_on is not None and on >= self.terminated_on:
            return f"was terminated on {self.terminated_on}"
        if self.expired_on is not None and on >= self.expired_on:
            return f"expired on {self.expired_on}"
        if self.end_date is not None and on > self.end_date:
            return f"ran until {self.end_date}"
        return None


INITIAL_CONTRACT = ContractState()


def evolve_contract(state: ContractState, event: DomainEvent) -> ContractState:
    match event:
        case ev.ContractSigned():
            return ContractState(
                contract_id=event.contract_id,
                status=ContractStatus.ACTIVE,
                kind=event.kind,
                contracting_authority=event.contracting_authority,
                paying_agent=event.paying_agent,
                signed_on=event.signed_on,
                start_date=event.start_date,
                end_date=event.end_date,
                max_extent_date=event.max_extent_date,
            )
        case ev.ContractAmended():
            return replace(
                state,
                end_date=event.new_end_date or state.end_date,
                max_extent_date=event.new_max_extent_date or state.max_extent_date,
            )
        case ev.ContractExtended():
            return replace(state, end_date=event.new_end_date)
        case ev.ContractTransferred():
            return replace(
                state, contracting_authority=event.to_authority, paying_agent=event.paying_agent
            )
        case ev.ContractTerminated():
            return replace(
                state, status=ContractStatus.TERMINATED, terminated_on=event.terminated_on
            )
        case ev.ContractExpired():
            return replace(state, status=ContractStatus.EXPIRED, expired_on=event.expired_on)
    return state
