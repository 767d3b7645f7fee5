"""Signing a contract: period, framework duration, standstill and award rules."""

from __future__ import annotations

from datetime import date, timedelta

from contracts_schema.errors import RuleViolation
from contracts_schema.money import Money
from contracts_schema.registry import commands as cmd
from contracts_schema.registry import events as ev
from contracts_schema.registry.state import ContractKind, ContractState, LotStatus, TenderState
from registry.domain.award_decide import lot_cancelled, require_standstill_over, review_pending
from registry.domain.facts import SigningFacts
from registry.domain.tender_checks import lot_of

FRAMEWORK_YEARS = 4  # Directive 2014/24/EU art. 33(1)


def sign(
    state: ContractState, command: cmd.SignContract, on: date, facts: object
) -> ev.ContractSigned:
    if state.exists:
        raise RuleViolation(
            "CONTRACT_ALREADY_SIGNED",
            f"contract {command.contract_id} was already signed on {state.signed_on};"
            " a contract id names one contract",
        )
    kind = ContractKind(command.kind)
    if kind is ContractKind.CALL_OFF:
        raise call_off_elsewhere(command)
    signing = facts if isinstance(facts, SigningFacts) else SigningFacts()
    if signing.call_off_id_taken:
        raise RuleViolation(
            "CONTRACT_ID_TAKEN",
            f"{command.contract_id} is the id of a call-off (awardCallOff); a call-off is a"
            " contract under its own id, so choose another contract id",
        )
    check_period(command)
    if command.tender_id is not None and kind is not ContractKind.NEGOTIATED_TERMS:
        check_award(command, signing.tender, on)
    return ev.ContractSigned(
        contract_id=command.contract_id,
        kind=command.kind,
        tender_id=command.tender_id,
        lot_ids=command.lot_ids,
        contracting_authority=command.contracting_authority,
        paying_agent=command.paying_agent,
        suppliers=command.suppliers,
        signed_on=on,
        start_date=command.start_date,
        end_date=command.end_date,
        max_extent_date=command.max_extent_date,
        value=Money.euro(command.value_eur),
        framework_contract_id=command.framework_contract_id,
        duration_rationale=command.duration_rationale,
        title=command.title,
    )


def call_off_elsewhere(command: cmd.SignContract) -> RuleViolation:
    # One legal act, one entry point: AwardCallOff holds every call-off rule (participant on
    # the frozen list of the lot, supplier on the framework's lot, framework running,
    # procedure); a second route here would skip them (Directive 2014/24/EU art. 33(2)-(5)).
    return RuleViolation(
        "CALL_OFF_REQUIRES_AWARD_CALL_OFF",
        f"contract {command.contract_id} is a call-off: a call-off is concluded only with the"
        " awardCallOff command (enrolment service), which checks that the participant is on"
        " the frozen list of the framework's lot and the supplier on that lot; signContract"
        " records frameworks, contracts and negotiated terms",
    )


def check_period(command: cmd.SignContract) -> None:
    start, end, extent = command.start_date, command.end_date, command.max_extent_date
    if end < start or (extent is not None and extent < end):
        raise RuleViolation(
            "INVALID_PERIOD",
            f"contract {command.contract_id} must start ({start}) before it ends ({end}) and"
            f" end no later than its maximum extent date ({extent})",
        )
    last_day = _add_years(start, FRAMEWORK_YEARS) - timedelta(days=1)
    if (
        ContractKind(command.kind) is ContractKind.FRAMEWORK
        and (extent or end) > last_day
        and not command.duration_rationale
    ):
        raise RuleViolation(
            "FRAMEWORK_RATIONALE_REQUIRED",
            f"framework {command.contract_id} may run until {extent or end}, longer than"
            f" {FRAMEWORK_YEARS} years (after {last_day}); Directive 2014/24/EU art. 33(1)"
            " allows that only with a stated rationale: send it as durationRationale"
            " (duration_rationale on NATS)",
        )


def check_award(command: cmd.SignContract, tender: TenderState | None, on: date) -> None:
    tid = command.tender_id
    if tender is None or not tender.exists:
        raise RuleViolation(
            "TENDER_NOT_FOUND",
            f"tender {tid} has not been planned; a contract from a tender needs its award",
        )
    if not command.lot_ids:
        raise RuleViolation(
            "LOTS_REQUIRED",
            f"contract {command.contract_id} results from tender {tid} but names no lots;"
            " say which awarded lots it covers",
        )
    for lot_id in command.lot_ids:
        lot = lot_of(tender, lot_id)
        if lot.status is LotStatus.CANCELLED:
            raise lot_cancelled(tender.tender_id, lot)
        # Standstill first: signing before it ends is the offence the law names.
        require_standstill_over(tender.tender_id, lot, on, "a contract is signed")
        if lot.review_pending:
            raise review_pending(tender.tender_id, lot)
        if lot.status is not LotStatus.AWARDED:
            raise RuleViolation(
                "AWARD_NOT_DEFINITIVE",
                f"lot {lot_id} of tender {tid} is {lot.status}; a contract is signed only"
                " after the award is definitive",
            )
        strangers = [
            s.supplier_id
            for s in command.suppliers
            if lot_id in s.lot_ids and s.supplier_id not in lot.supplier_ids
        ]
        if strangers:
            raise RuleViolation(
                "SUPPLIER_NOT_AWARDED",
                f"{', '.join(strangers)} was not awarded lot {lot_id} of tender {tid}"
                f" (awarded: {', '.join(lot.supplier_ids)}); sign only with awarded suppliers",
            )


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)
