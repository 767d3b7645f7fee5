"""Decisions on a contract: sign, amend, extend, transfer, terminate, expire."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from contracts_schema.base import Command, DomainEvent
from contracts_schema.errors import RuleViolation
from contracts_schema.money import Money
from contracts_schema.registry import commands as cmd
from contracts_schema.registry import events as ev
from contracts_schema.registry.state import ContractState, ContractStatus
from registry.domain.facts import CallOffOfId
from registry.domain.rules import DecisionInput, not_before, valid_on
from registry.domain.signing import sign


def decide_contract(
    state: ContractState, command: Command, ctx: DecisionInput
) -> Sequence[DomainEvent]:
    on = valid_on(ctx)
    if isinstance(command, cmd.SignContract):
        return [sign(state, command, on, ctx.facts)]
    if not isinstance(command, cmd.ContractCommand):
        raise TypeError(f"the contract aggregate does not handle {type(command).__name__}")
    cid = command.contract_id
    if not state.exists:
        if isinstance(command, cmd.TransferContract) and isinstance(ctx.facts, CallOffOfId):
            raise _call_off_not_transferable(ctx.facts)
        raise RuleViolation(
            "CONTRACT_NOT_FOUND",
            f"contract {cid} has not been signed; record its signature first",
        )
    not_before(on, state.signed_on, f"a change to contract {cid}", "its signature")
    if isinstance(command, cmd.ExpireContract):
        return [_expire(state, on)]
    ended = state.ended_by(on)
    if ended:
        what = type(command).__name__
        raise RuleViolation(
            "CONTRACT_ENDED",
            f"contract {cid} {ended}; an expired or terminated contract cannot be changed"
            f" ({what} on {on})",
        )
    match command:
        case cmd.AmendContract():
            if command.new_end_date or command.new_max_extent_date:
                _after_last_term_change(state, on)
            return [_amend(state, command, on)]
        case cmd.ExtendContract():
            _after_last_term_change(state, on)
            return [_extend(state, command, on)]
        case cmd.TransferContract():
            last = max((t.on for t in state.transfers), default=None)
            not_before(on, last, f"a transfer of contract {cid}", "its last transfer")
            if command.to_authority == state.contracting_authority:
                raise RuleViolation(
                    "SAME_AUTHORITY",
                    f"contract {cid} already belongs to {command.to_authority};"
                    " a transfer goes to another contracting authority",
                )
            return [
                ev.ContractTransferred(
                    contract_id=cid,
                    from_authority=state.contracting_authority,
                    to_authority=command.to_authority,
                    paying_agent=command.paying_agent,
                    transferred_on=on,
                )
            ]
        case cmd.TerminateContract():
            return [ev.ContractTerminated(contract_id=cid, terminated_on=on, reason=command.reason)]
    raise TypeError(f"the contract aggregate does not handle {type(command).__name__}")


def refusal_for_call_off(command: cmd.ContractCommand, call_off: CallOffOfId) -> RuleViolation:
    """The refusal of a change to a registry contract whose id names a call-off instead."""
    if isinstance(command, cmd.TransferContract):
        return _call_off_not_transferable(call_off)
    # The registry records the changes of the contracts signed through it; a call-off is
    # concluded and recorded by its participant through the enrolment service (DOMAIN.md:
    # municipalities record their own call-offs), which records no change to it after its
    # award. Its term was fixed by the award (its end may pass the framework's, DOMAIN.md).
    change = {
        cmd.AmendContract: "amended",
        cmd.ExtendContract: "extended",
        cmd.TerminateContract: "terminated",
        cmd.ExpireContract: "expired",
    }.get(type(command), "changed")
    framework = call_off.framework_contract_id or "its framework"
    return RuleViolation(
        "CALL_OFF_NOT_CHANGEABLE",
        f"{call_off.call_off_id} is a call-off under framework {framework}, concluded by"
        f" {call_off.participant_code or 'its participant'} (recorded by the enrolment"
        f" service with awardCallOff), not a contract signed in the registry: it cannot be"
        f" {change} here. The registry records amendments, extensions, transfers and"
        " terminations of the contracts signed through it (signContract); a call-off keeps"
        f" the term it was awarded with. To change the framework, name {framework}",
    )


def _call_off_not_transferable(call_off: CallOffOfId) -> RuleViolation:
    # A call-off is the contract one participant concludes under a framework (DOMAIN.md): its
    # party is that participant, not a contracting authority the registry records. It passes
    # to another body only with its participant (a merger: MergeMunicipality); the authority
    # of the framework it was called off under changes by transferring the framework.
    framework = call_off.framework_contract_id or "its framework"
    return RuleViolation(
        "CALL_OFF_NOT_TRANSFERABLE",
        f"{call_off.call_off_id} is a call-off under framework {framework}, concluded by"
        f" {call_off.participant_code or 'its participant'} (recorded by the enrolment"
        " service); a call-off is not transferred on its own: it stays with the participant"
        " that concluded it (and passes to a successor municipality with a merger). To change"
        f" the contracting authority, transfer the framework {framework}",
    )


def _after_last_term_change(state: ContractState, on: date) -> None:
    """Changes of the end and maximum extent follow each other in valid time as recorded:
    every view folds them by day, so one dated before the last would leave another end there
    than here. (A change of the value alone may be learned late, dated anywhere it ran.)"""
    days = [a.on for a in state.amendments if a.new_end_date or a.new_max_extent_date]
    days += [e.on for e in state.extensions]
    last = max(days, default=None)
    not_before(on, last, f"a change of the term of contract {state.contract_id}", "the last one")


def _amend(state: ContractState, command: cmd.AmendContract, on: date) -> ev.ContractAmended:
    extent = command.new_max_extent_date or state.max_extent_date
    end = command.new_end_date or state.end_date
    if extent is not None and end is not None and end > extent:
        raise _past_extent(state.contract_id, end, extent)
    return ev.ContractAmended(
        contract_id=state.contract_id,
        amended_on=on,
        summary=command.summary,
        new_end_date=command.new_end_date,
        new_max_extent_date=command.new_max_extent_date,
        new_value=Money.euro(command.new_value_eur),
    )


def _extend(state: ContractState, command: cmd.ExtendContract, on: date) -> ev.ContractExtended:
    cid, end, extent = state.contract_id, state.end_date, state.max_extent_date
    assert end is not None
    if command.new_end_date <= end:
        raise RuleViolation(
            "EXTENSION_NOT_LATER",
            f"contract {cid} already runs until {end}; an extension must end later"
            f" than that, not on {command.new_end_date}",
        )
    if extent is None:
        raise RuleViolation(
            "EXTENSION_PAST_MAX_EXTENT",
            f"contract {cid} has no maximum extent date, so it has no option to extend;"
            " an option can never reach past the maximum extent date",
        )
    if command.new_end_date > extent:
        raise _past_extent(cid, command.new_end_date, extent)
    return ev.ContractExtended(
        contract_id=cid,
        new_end_date=command.new_end_date,
        previous_end_date=end,
        extended_on=on,
        option_reference=command.option_reference,
    )


def _expire(state: ContractState, on: date) -> ev.ContractExpired:
    cid, end = state.contract_id, state.end_date
    if state.status is not ContractStatus.ACTIVE:
        raise RuleViolation(
            "CONTRACT_ENDED",
            f"contract {cid} {state.ended_by(on) or 'has ended'}; it cannot expire again",
        )
    if not state.end_stated:
        # Its end day is the registry's last (OPEN_END), not a published fact (import33).
        raise RuleViolation(
            "CONTRACT_NOT_YET_ENDED",
            f"contract {cid} has no stated end date (its source published none): it runs on"
            " and never expires; terminate it to end it, or amend it with an end date first",
        )
    if end is not None and on <= end:
        raise RuleViolation(
            "CONTRACT_NOT_YET_ENDED",
            f"contract {cid} runs until {end}; it expires only after its end date, not on {on}"
            " (terminate it to end it early)",
        )
    return ev.ContractExpired(contract_id=cid, expired_on=on)


def _past_extent(cid: str, end: date, extent: date) -> RuleViolation:
    return RuleViolation(
        "EXTENSION_PAST_MAX_EXTENT",
        f"contract {cid} cannot run until {end}: its maximum extent date is {extent},"
        " which no option or amendment may pass",
    )
