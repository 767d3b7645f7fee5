"""The call-off aggregate (nadere overeenkomst) under a framework agreement.

Only participants on the tender's frozen list may call off (Directive 2014/24/EU art. 33(2));
only the framework's suppliers for the lot take part (art. 33(3)-(5)); a call-off is concluded
while the framework runs, though its own term may run past the framework's end. No standstill
period applies to call-offs under a framework (Remedies Directive 89/665/EEC art. 2b(c)).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from contracts_schema.base import DomainEvent
from contracts_schema.enrolment.commands import AwardCallOff, StartMiniCompetition
from contracts_schema.enrolment.events import CallOffAwarded, MiniCompetitionStarted
from contracts_schema.enrolment.state import CallOffState
from contracts_schema.errors import RuleViolation
from contracts_schema.money import Money


@dataclass(frozen=True)
class Framework:
    """A framework agreement as the registry describes it (from the projection)."""

    contract_id: str
    kind: str
    tender_id: str | None
    suppliers_by_lot: Mapping[str, frozenset[str]]
    start_date: date
    end_date: date
    terminated_on: date | None = None


@dataclass(frozen=True)
class CallOffFacts:
    framework: Framework | None
    frozen_on: date | None  # None: the tender's participant list was never frozen
    participants: Mapping[str, frozenset[str]]  # the frozen list: code -> lots
    predecessors: frozenset[str]  # municipalities that merged into the participant
    merged_into: str | None = None  # the participant's successor, when it merged away
    merged_on: date | None = None  # the day that merger took effect
    contract_id_taken: bool = False  # the registry signed a contract under the call-off's id


def _require_own_id(facts: CallOffFacts, call_off_id: str) -> None:
    # A concluded call-off is a contract under its call-off id: one id space for both.
    if facts.contract_id_taken:
        raise RuleViolation(
            "CONTRACT_ID_TAKEN",
            f"the registry already has a contract {call_off_id}; a call-off is a contract"
            " under its own id, so choose another call-off id",
        )


def _framework_in_use(
    facts: CallOffFacts, contract_id: str, lot_id: str, participant: str, on: date
) -> Framework:
    framework = facts.framework
    if framework is None:
        raise RuleViolation(
            "FRAMEWORK_NOT_FOUND", f"the registry knows no signed contract {contract_id}"
        )
    if framework.kind != "framework" or framework.tender_id is None:
        raise RuleViolation(
            "NOT_A_FRAMEWORK",
            f"contract {contract_id} is a {framework.kind} contract; call-offs are concluded"
            " only under a framework agreement from a joint tender",
        )
    if lot_id not in framework.suppliers_by_lot:
        raise RuleViolation(
            "LOT_NOT_IN_FRAMEWORK",
            f"framework {contract_id} has no lot {lot_id}; its lots are"
            f" {', '.join(sorted(framework.suppliers_by_lot))}",
        )
    _require_participant(facts, framework, lot_id, participant, on)
    if on < framework.start_date:
        raise RuleViolation(
            "FRAMEWORK_NOT_STARTED",
            f"framework {contract_id} runs from {framework.start_date}; no call-off on {on}",
        )
    if framework.terminated_on is not None and on >= framework.terminated_on:
        raise RuleViolation(
            "FRAMEWORK_TERMINATED",
            f"framework {contract_id} was terminated on {framework.terminated_on}; no call-off"
            f" can be concluded under it on {on}",
        )
    if on > framework.end_date:
        raise RuleViolation(
            "FRAMEWORK_ENDED",
            f"framework {contract_id} ended on {framework.end_date}; call-offs must be"
            f" concluded while the framework runs (not on {on})",
        )
    return framework


def _require_participant(
    facts: CallOffFacts, framework: Framework, lot_id: str, participant: str, on: date
) -> None:
    tender = framework.tender_id
    # Before its merger took effect the municipality still acted itself: a call-off it
    # concluded then (recorded late, after the merger) is its own.
    if facts.merged_into is not None and (facts.merged_on is None or on >= facts.merged_on):
        raise RuleViolation(
            "ORGANISATION_MERGED",
            f"municipality {participant} merged into {facts.merged_into}, which took over its"
            f" participations; call off as {facts.merged_into}",
        )
    if facts.frozen_on is None:
        raise RuleViolation(
            "NOT_A_PARTICIPANT",
            f"the participant list of tender {tender} was never frozen, so nobody may call off"
            f" under framework {framework.contract_id}",
        )
    if any(lot_id in facts.participants.get(b, ()) for b in {participant} | facts.predecessors):
        return
    raise RuleViolation(
        "NOT_A_PARTICIPANT",
        f"{participant} is not on the participant list of tender {tender} for lot {lot_id}"
        f" (frozen on {facts.frozen_on}); Directive 2014/24/EU art. 33(2) lets only the"
        " authorities identified before the procedure use the framework",
    )


def _require_suppliers(framework: Framework, lot_id: str, suppliers: Sequence[str]) -> None:
    outside = sorted(set(suppliers) - framework.suppliers_by_lot[lot_id])
    if outside:
        raise RuleViolation(
            "SUPPLIER_NOT_ON_FRAMEWORK_LOT",
            f"{', '.join(outside)} is not a supplier of framework {framework.contract_id}"
            f" for lot {lot_id}; its suppliers there are"
            f" {', '.join(sorted(framework.suppliers_by_lot[lot_id]))}",
        )


def _another_s(state: CallOffState, participant: str) -> str | None:
    """Why a call-off id another participant holds is refused, naming nothing of it; None when
    the id is free or the participant's own. Participants read only their own call-offs (the
    gateway hides the rest), and the award's refusals told any participant the holder,
    framework, lot, supplier and day of another's call-off (attack10)."""
    if state.exists and state.participant_code != participant:
        return f"call-off {state.call_off_id} is another participant's; choose another call-off id"
    return None


def start_mini_competition(
    state: CallOffState,
    command: StartMiniCompetition,
    facts: CallOffFacts,
    valid_on: date | None = None,
) -> Sequence[DomainEvent]:
    """`valid_on`: the decision context's Dutch day (by default the command's own day)."""
    on = valid_on or command.started_on
    assert on is not None  # the contract fills the day from occurred_at
    if taken := _another_s(state, command.participant_code):
        raise RuleViolation("CALL_OFF_ALREADY_STARTED", taken)
    if state.exists:
        raise RuleViolation(
            "CALL_OFF_ALREADY_STARTED",
            f"call-off {command.call_off_id} already has a mini-competition or an award",
        )
    _require_own_id(facts, command.call_off_id)
    framework = _framework_in_use(
        facts,
        command.framework_contract_id,
        command.lot_id,
        command.participant_code,
        on,
    )
    _require_suppliers(framework, command.lot_id, command.invited_supplier_ids)
    assert framework.tender_id is not None
    return [
        MiniCompetitionStarted(
            call_off_id=command.call_off_id,
            framework_contract_id=command.framework_contract_id,
            tender_id=framework.tender_id,
            lot_id=command.lot_id,
            participant_code=command.participant_code,
            invited_supplier_ids=sorted(set(command.invited_supplier_ids)),
            started_on=on,
        )
    ]


def _check_competition(state: CallOffState, command: AwardCallOff, on: date) -> None:
    started_on = state.competition_started_on
    if command.procedure == "direct":
        if started_on is not None:
            raise RuleViolation(
                "MINI_COMPETITION_HELD",
                f"call-off {command.call_off_id} followed a mini-competition started on"
                f" {started_on}; award it with procedure mini_competition",
            )
        return
    if started_on is None:
        raise RuleViolation(
            "MINI_COMPETITION_NOT_HELD",
            f"no mini-competition was started for call-off {command.call_off_id}",
        )
    held = (state.framework_contract_id, state.lot_id, state.participant_code)
    if held != (command.framework_contract_id, command.lot_id, command.participant_code):
        raise RuleViolation(
            "MINI_COMPETITION_MISMATCH",
            f"the mini-competition of call-off {command.call_off_id} was held by {held[2]}"
            f" under framework {held[0]} lot {held[1]}",
        )
    if command.supplier_id not in state.invited_supplier_ids:
        raise RuleViolation(
            "SUPPLIER_NOT_INVITED",
            f"{command.supplier_id} was not invited to the mini-competition of call-off"
            f" {command.call_off_id} (invited: {', '.join(state.invited_supplier_ids)})",
        )
    if on < started_on:
        raise RuleViolation(
            "AWARD_BEFORE_MINI_COMPETITION",
            f"the award on {on} precedes the mini-competition started on {started_on}",
        )


def award(
    state: CallOffState,
    command: AwardCallOff,
    facts: CallOffFacts,
    valid_on: date | None = None,
) -> Sequence[DomainEvent]:
    """`valid_on`: the decision context's Dutch day (by default the command's own day)."""
    on = valid_on or command.awarded_on
    assert on is not None  # the contract fills the day from occurred_at
    if taken := _another_s(state, command.participant_code):
        # One code whatever another's call-off has come to (review13: AWARDED vs STARTED told
        # any participant whether another's call-off was awarded).
        raise RuleViolation("CALL_OFF_ALREADY_STARTED", taken)
    if state.awarded:
        raise RuleViolation(
            "CALL_OFF_ALREADY_AWARDED",
            f"call-off {command.call_off_id} was already awarded to {state.supplier_id}"
            f" on {state.awarded_on}",
        )
    _require_own_id(facts, command.call_off_id)
    _check_competition(state, command, on)
    framework = _framework_in_use(
        facts,
        command.framework_contract_id,
        command.lot_id,
        command.participant_code,
        on,
    )
    _require_suppliers(framework, command.lot_id, [command.supplier_id])
    if command.end_date < command.start_date:
        raise RuleViolation(
            "INVALID_CALL_OFF_PERIOD",
            f"call-off {command.call_off_id} cannot end ({command.end_date}) before it starts"
            f" ({command.start_date})",
        )
    assert framework.tender_id is not None
    # No standstill: a call-off under a framework is concluded on the day it is awarded.
    return [
        CallOffAwarded(
            call_off_id=command.call_off_id,
            framework_contract_id=command.framework_contract_id,
            tender_id=framework.tender_id,
            lot_id=command.lot_id,
            participant_code=command.participant_code,
            supplier_id=command.supplier_id,
            awarded_on=on,
            procedure=command.procedure,
            start_date=command.start_date,
            end_date=command.end_date,
            value=Money.euro(command.value_eur),
        )
    ]
