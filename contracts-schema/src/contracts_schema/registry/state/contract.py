"""The contract aggregate as the registry folds it: frameworks, call-offs, contracts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from contracts_schema.base import DomainEvent
from contracts_schema.bounds import LAST_DAY
from contracts_schema.errors import FoldError
from contracts_schema.frozen import replace
from contracts_schema.registry import contract_events as ev
from contracts_schema.registry.import_events import ContractReleaseImported, LawFinding


class ContractKind(StrEnum):
    # The same values as the wire's `values.ContractKind` literal (a test holds them equal).
    FRAMEWORK = "framework"
    CALL_OFF = "call_off"
    CONTRACT = "contract"
    NEGOTIATED_TERMS = "negotiated_terms"


class ContractStatus(StrEnum):
    ACTIVE = "active"
    TERMINATED = "terminated"
    EXPIRED = "expired"


@dataclass(frozen=True)
class ContractSupplierState:
    supplier_id: str
    name: str
    lot_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Amendment:
    on: date
    summary: str
    new_end_date: date | None = None
    new_max_extent_date: date | None = None
    new_value_eur: Decimal | None = None


@dataclass(frozen=True)
class Extension:
    on: date
    previous_end_date: date
    new_end_date: date
    option_reference: str | None = None


@dataclass(frozen=True)
class Transfer:
    on: date
    from_authority: str
    to_authority: str
    paying_agent: str | None = None


@dataclass(frozen=True)
class ContractState:
    contract_id: str
    kind: ContractKind | None = None
    title: str | None = None
    tender_id: str | None = None
    lot_ids: tuple[str, ...] = ()
    framework_contract_id: str | None = None
    contracting_authority: str = ""
    paying_agent: str | None = None
    suppliers: tuple[ContractSupplierState, ...] = ()
    signed_on: date | None = None
    start_date: date | None = None
    signed_on_stated: bool = True  # false: imported without one (review18a)
    start_stated: bool = True
    end_date: date | None = None
    # False: imported without an end, or one no longer stated (import33); end_date is then
    # OPEN_END, the contract runs on and never expires.
    end_stated: bool = True
    max_extent_date: date | None = None
    value_eur: Decimal | None = None
    duration_rationale: str | None = None
    status: ContractStatus = ContractStatus.ACTIVE  # meaningful once `exists`
    amendments: tuple[Amendment, ...] = ()
    extensions: tuple[Extension, ...] = ()
    transfers: tuple[Transfer, ...] = ()
    terminated_on: date | None = None
    end_reason: str | None = None
    expired_on: date | None = None
    # Imported from published OCDS data: the source process, and what the rules found.
    source_ocid: str | None = None
    law_findings: tuple[LawFinding, ...] = ()

    @property
    def exists(self) -> bool:
        return self.signed_on is not None

    @property
    def ended_on(self) -> date | None:
        return self.terminated_on or self.expired_on

    def ended_by(self, on: date) -> str | None:
        """Why the contract is no longer in force on a day (valid time), or None."""
        if self.terminated_on is not None and on >= self.terminated_on:
            return f"was terminated on {self.terminated_on}"
        if self.expired_on is not None and on >= self.expired_on:
            return f"expired on {self.expired_on}"
        if self.end_date is not None and self.end_stated and on > self.end_date:
            return f"ran until {self.end_date}"
        return None


# The end recorded for a contract whose source states none (import33): the registry's last
# day, so that a reader not knowing the mark sees a contract running past any day it asks
# about (as-of views, expiry), never one that ended.
OPEN_END = LAST_DAY


def initial(contract_id: str) -> ContractState:
    return ContractState(contract_id=contract_id)


HANDLED: frozenset[type[DomainEvent]] = frozenset({*ev.CONTRACT_EVENTS, ContractReleaseImported})
IGNORED: frozenset[type[DomainEvent]] = frozenset()


def euro(value: float | None) -> Decimal | None:
    # Through str: the decimal the wire meant, not the float's binary expansion.
    return None if value is None else Decimal(str(value))


def evolve(state: ContractState, event: DomainEvent) -> ContractState:
    if isinstance(event, ev.ContractSigned):
        if state.exists:
            raise _error(state, event, f"it was already signed on {state.signed_on}")
        return _signed(event)
    if type(event) in IGNORED:
        return state
    if not state.exists and type(event) in HANDLED:
        raise _error(state, event, "the contract was never signed")
    match event:
        case ev.ContractAmended():
            amendment = Amendment(
                event.amended_on,
                event.summary,
                event.new_end_date,
                event.new_max_extent_date,
                None if event.new_value is None else event.new_value.amount,
            )
            # Each of the three is changed only when the amendment gives it.
            value = state.value_eur if amendment.new_value_eur is None else amendment.new_value_eur
            return replace(
                state,
                end_date=event.new_end_date or state.end_date,
                end_stated=state.end_stated or event.new_end_date is not None,
                max_extent_date=event.new_max_extent_date or state.max_extent_date,
                value_eur=value,
                amendments=(*state.amendments, amendment),
            )
        case ev.ContractRestated():
            # Imported only (import25): what a later release states otherwise. A finding is
            # about the facts as recorded: the rules a restated day is judged by again give
            # the restating release's findings, which replace those the former day gave
            # (review18a: a signing restated past the standstill kept its finding).
            for day, cleared in _CLEARED.items():  # import32: a day both stated and not
                if getattr(event, day) is not None and getattr(event, cleared):
                    raise _error(state, event, f"it states {day} and says it is not stated")
            rejudged = _rejudged(event)
            return replace(
                state,
                law_findings=tuple(
                    f
                    for f in state.law_findings
                    if not (f.code in rejudged and f.subject in (None, state.contract_id))
                ),
                signed_on=event.signed_on or state.signed_on,
                start_date=event.start_date or _start_follows(state, event),
                # A day no longer stated stays recorded, not stated (import30).
                signed_on_stated=(state.signed_on_stated or event.signed_on is not None)
                and not event.signed_on_cleared,
                start_stated=(state.start_stated or event.start_date is not None)
                and not event.start_cleared,
                # An end no longer stated: the contract runs on (import33).
                end_date=event.end_date or (OPEN_END if event.end_cleared else state.end_date),
                end_stated=(state.end_stated or event.end_date is not None)
                and not event.end_cleared,
                max_extent_date=None if event.max_extent_cleared else state.max_extent_date,
                value_eur=None if event.value_cleared else state.value_eur,
            )
        case ev.ContractExtended():
            extension = Extension(
                event.extended_on,
                event.previous_end_date,
                event.new_end_date,
                event.option_reference,
            )
            return replace(
                state,
                end_date=event.new_end_date,
                end_stated=True,
                extensions=(*state.extensions, extension),
            )
        case ev.ContractTransferred():
            transfer = Transfer(
                event.transferred_on, event.from_authority, event.to_authority, event.paying_agent
            )
            return replace(
                state,
                contracting_authority=event.to_authority,
                paying_agent=event.paying_agent,
                transfers=(*state.transfers, transfer),
            )
        case ev.ContractTerminated():
            return replace(
                state,
                status=ContractStatus.TERMINATED,
                terminated_on=event.terminated_on,
                end_reason=event.reason,
            )
        case ContractReleaseImported():
            known = state.law_findings
            new = tuple(f for f in dict.fromkeys(event.findings) if f not in known)
            return replace(state, source_ocid=event.ocid, law_findings=(*known, *new))
        case ev.ContractExpired():
            return replace(state, status=ContractStatus.EXPIRED, expired_on=event.expired_on)
    raise _error(state, event, "it is not an event of the contract aggregate")


# The codes each restated day is judged by again (registry.domain.imported): the period's
# rule for a start, the award's rule for a signing day.
RESTATED_RULES: dict[str, frozenset[str]] = {
    "start_date": frozenset({"INVALID_PERIOD", "FRAMEWORK_RATIONALE_REQUIRED"}),
    # An end first stated, or no longer stated (import33): the period's rule again.
    "end_date": frozenset({"INVALID_PERIOD", "FRAMEWORK_RATIONALE_REQUIRED"}),
    # Only the standstill depends on the signing day: the award's other findings stay.
    "signed_on": frozenset({"STANDSTILL_NOT_ENDED"}),
}


def _start_follows(state: ContractState, event: ev.ContractRestated) -> date | None:
    """An unstated start is recorded as the signing day (import29): it follows a signing day
    stated later, or the contract would run from before it was signed (review18b)."""
    if event.signed_on is not None and not state.start_stated:
        return event.signed_on
    return state.start_date


def _rejudged(event: ev.ContractRestated) -> frozenset[str]:
    """The codes judged again: a day restated, or no longer stated (import30: a rule is not
    judged on a day not stated, as at a signing without it, so its finding goes)."""
    codes: frozenset[str] = frozenset()
    for day, rule in RESTATED_RULES.items():
        if getattr(event, day) is not None or getattr(event, _CLEARED[day]):
            codes |= rule
    return codes


_CLEARED = {
    "start_date": "start_cleared",
    "signed_on": "signed_on_cleared",
    "end_date": "end_cleared",
}


def _signed(event: ev.ContractSigned) -> ContractState:
    return ContractState(
        contract_id=event.contract_id,
        kind=ContractKind(event.kind),
        title=event.title,
        tender_id=event.tender_id,
        lot_ids=tuple(event.lot_ids),
        framework_contract_id=event.framework_contract_id,
        contracting_authority=event.contracting_authority,
        paying_agent=event.paying_agent,
        suppliers=tuple(
            ContractSupplierState(s.supplier_id, s.name, tuple(s.lot_ids)) for s in event.suppliers
        ),
        signed_on=event.signed_on,
        start_date=event.start_date,
        signed_on_stated=event.signed_on_stated,
        start_stated=event.start_stated,
        end_date=event.end_date,
        end_stated=event.end_stated,
        max_extent_date=event.max_extent_date,
        value_eur=None if event.value is None else event.value.amount,
        duration_rationale=event.duration_rationale,
    )


def _error(state: ContractState, event: DomainEvent, why: str) -> FoldError:
    return FoldError(f"{event.event_type} cannot apply to contract {state.contract_id}: {why}")
