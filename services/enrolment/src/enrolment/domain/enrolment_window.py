"""The enrolment window of a joint tender (aggregate id = the tender id).

Directive 2014/24/EU art. 33(2): only contracting authorities clearly identified when the
procedure starts may use the resulting framework. Closing the window freezes the participant
list; nothing is ever added to it afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from contracts_schema.base import DomainEvent
from contracts_schema.enrolment.commands import (
    CloseEnrolmentWindow,
    EnrolParticipant,
    ExtendEnrolmentWindow,
    OpenEnrolmentWindow,
    WithdrawParticipant,
)
from contracts_schema.enrolment.events import (
    EnrolmentWindowExtended,
    EnrolmentWindowOpened,
    Participant,
    ParticipantEnrolled,
    ParticipantListFrozen,
    ParticipantWithdrawn,
)
from contracts_schema.enrolment.state import (
    EnrolmentWindowState,
    OrganisationState,
    ParticipantState,
)
from contracts_schema.errors import RuleViolation
from enrolment.domain.organisation import require_active

EU_RULE = (
    "Directive 2014/24/EU art. 33(2) lets only contracting authorities identified before"
    " the procedure starts use its contracts"
)


@dataclass(frozen=True)
class TenderFacts:
    """What the registry says about a tender (from the enrolment service's projection)."""

    tender_id: str
    lot_ids: frozenset[str]
    published_on: date | None


@dataclass(frozen=True)
class OpenFacts:
    tender: TenderFacts | None
    previous_round: EnrolmentWindowState | None


@dataclass(frozen=True)
class EnrolFacts:
    organisation: OrganisationState
    previous_round: EnrolmentWindowState | None
    predecessors: frozenset[str]  # municipalities that merged into the enrolling one


def _require_opened(state: EnrolmentWindowState, tender_id: str) -> None:
    if not state.opened:
        raise RuleViolation(
            "ENROLMENT_WINDOW_NOT_OPENED", f"no enrolment window was opened for tender {tender_id}"
        )


def _last_day(participant: ParticipantState) -> date | None:
    days = [d for d in (participant.enrolled_on, participant.withdrawn_on) if d is not None]
    return max(days) if days else None


def _not_before(on: date, earlier: date | None, what: str, anchor: str) -> None:
    """A body's enrolments and withdrawals, and the freeze after them, follow each other in
    valid time as recorded: every view folds the window by day, so one dated before the last
    of them would count in another order there (withdrawn here, enrolled there)."""
    if earlier is not None and on < earlier:
        raise RuleViolation(
            "DATE_OUT_OF_ORDER",
            f"{what} on {on} cannot precede {anchor} on {earlier}; record the facts of a"
            " window in the order they happened",
        )


def _require_not_frozen(state: EnrolmentWindowState, tender_id: str, what: str) -> None:
    if state.frozen_on is not None:
        raise RuleViolation(
            "ENROLMENT_CLOSED",
            f"{what} refused: the participant list of tender {tender_id} was frozen on"
            f" {state.frozen_on}; {EU_RULE}; a body that missed it can only join a later round",
        )


def open_window(
    state: EnrolmentWindowState, command: OpenEnrolmentWindow, facts: OpenFacts
) -> Sequence[DomainEvent]:
    event = EnrolmentWindowOpened(
        tender_id=command.tender_id,
        lot_ids=list(dict.fromkeys(command.lot_ids)),
        opens_on=command.opens_on,
        closes_on=command.closes_on,
        previous_round_tender_id=command.previous_round_tender_id,
    )
    if state.opened:
        same = (tuple(event.lot_ids), event.opens_on, event.previous_round_tender_id)
        if same == (state.lot_ids, state.opens_on, state.previous_round_tender_id):
            return []  # the same opening again
        raise RuleViolation(
            "ENROLMENT_WINDOW_ALREADY_OPENED",
            f"tender {command.tender_id} already has an enrolment window"
            f" ({state.opens_on} to {state.closes_on}); extend it instead",
        )
    if command.closes_on < command.opens_on:
        raise RuleViolation(
            "INVALID_ENROLMENT_PERIOD",
            f"the window cannot close ({command.closes_on}) before it opens ({command.opens_on})",
        )
    tender = facts.tender
    if tender is None:
        raise RuleViolation(
            "TENDER_NOT_PLANNED",
            f"the registry knows no tender {command.tender_id}; plan it there first",
        )
    if tender.published_on is not None:
        raise RuleViolation(
            "TENDER_ALREADY_PUBLISHED",
            f"tender {command.tender_id} was published on {tender.published_on}; {EU_RULE},"
            " so enrolment must happen before publication",
        )
    unknown = sorted(set(command.lot_ids) - tender.lot_ids)
    if unknown:
        raise RuleViolation(
            "LOT_NOT_IN_TENDER",
            f"tender {command.tender_id} has no lot {', '.join(unknown)};"
            f" its lots are {', '.join(sorted(tender.lot_ids))}",
        )
    previous_id = command.previous_round_tender_id
    if previous_id is not None:
        previous = facts.previous_round
        if previous_id == command.tender_id or previous is None or not previous.opened:
            raise RuleViolation(
                "PREVIOUS_ROUND_UNKNOWN",
                f"tender {previous_id} has no enrolment window, so it cannot be the previous"
                f" round of {command.tender_id}",
            )
        if previous.frozen_on is None:
            raise RuleViolation(
                "PREVIOUS_ROUND_NOT_CLOSED",
                f"the first round {previous_id} is still open for enrolment; close it before"
                " opening a second round",
            )
    return [event]


def extend(state: EnrolmentWindowState, command: ExtendEnrolmentWindow) -> Sequence[DomainEvent]:
    _require_opened(state, command.tender_id)
    _require_not_frozen(state, command.tender_id, "extension")
    assert state.closes_on is not None
    if command.closes_on == state.closes_on:
        return []
    if command.closes_on < state.closes_on:
        raise RuleViolation(
            "EXTENSION_NOT_LATER",
            f"the new deadline {command.closes_on} is before the current one"
            f" {state.closes_on}; an extension moves the deadline later",
        )
    return [
        EnrolmentWindowExtended(
            tender_id=command.tender_id,
            closes_on=command.closes_on,
            previous_closes_on=state.closes_on,
        )
    ]


def enrol(
    state: EnrolmentWindowState, command: EnrolParticipant, on: date, facts: EnrolFacts
) -> Sequence[DomainEvent]:
    tender_id, code = command.tender_id, command.organisation_code
    _require_opened(state, tender_id)
    _require_not_frozen(state, tender_id, f"enrolment of {code}")
    assert state.opens_on is not None
    assert state.closes_on is not None
    if on < state.opens_on:
        raise RuleViolation(
            "ENROLMENT_NOT_YET_OPEN",
            f"enrolment for tender {tender_id} opens on {state.opens_on} (enrolment on {on})",
        )
    if on > state.closes_on:
        raise RuleViolation(
            "ENROLMENT_DEADLINE_PASSED",
            f"the enrolment deadline of tender {tender_id} was {state.closes_on} (enrolment on"
            f" {on}); the coordinator may still extend the window until the list is frozen",
        )
    require_active(facts.organisation, code, on)
    if facts.organisation.kind == "supplier":
        raise RuleViolation(
            "SUPPLIER_CANNOT_ENROL",
            f"{code} is registered as a supplier; only contracting authorities enrol",
        )
    lots = frozenset(command.lot_ids)
    unknown = sorted(lots - set(state.lot_ids))
    if unknown:
        raise RuleViolation(
            "LOT_NOT_IN_WINDOW",
            f"tender {tender_id} takes enrolments for lots {', '.join(state.lot_ids)},"
            f" not {', '.join(unknown)}",
        )
    previous = facts.previous_round
    if previous is not None:
        for body in sorted({code} | facts.predecessors):
            overlap = previous.enrolled.get(body, frozenset()) & lots
            if overlap:
                via = "" if body == code else f" (through {body}, which merged into it)"
                raise RuleViolation(
                    "ALREADY_PARTICIPANT_IN_PREVIOUS_ROUND",
                    f"{code} already takes part in the first round {previous.tender_id}{via}"
                    f" for lots {', '.join(sorted(overlap))}; it may not enrol for them again",
                )
    participant = state.participants.get(code)
    if participant is not None:
        _not_before(
            on,
            _last_day(participant),
            f"the enrolment of {code}",
            "its last enrolment or withdrawal",
        )
    if state.enrolled.get(code) == lots:
        return []
    return [
        ParticipantEnrolled(
            tender_id=tender_id,
            organisation_code=code,
            lot_ids=sorted(lots),
            power_of_attorney_ref=command.power_of_attorney_ref,
            enrolled_on=on,
        )
    ]


def withdraw(
    state: EnrolmentWindowState, command: WithdrawParticipant, on: date
) -> Sequence[DomainEvent]:
    tender_id, code = command.tender_id, command.organisation_code
    _require_opened(state, tender_id)
    _require_not_frozen(state, tender_id, f"withdrawal of {code}")
    if code not in state.enrolled:
        raise RuleViolation(
            "NOT_ENROLLED", f"{code} is not enrolled for tender {tender_id}, so cannot withdraw"
        )
    enrolled_on = state.participants[code].enrolled_on
    if enrolled_on is not None and on < enrolled_on:
        # Valid time: a body withdraws after it enrolled, or the history says it never took
        # part at all on the days between.
        raise RuleViolation(
            "WITHDRAWAL_BEFORE_ENROLMENT",
            f"{code} enrolled for tender {tender_id} on {enrolled_on}; a withdrawal dated {on}"
            " would precede its enrolment",
        )
    return [ParticipantWithdrawn(tender_id=tender_id, organisation_code=code, withdrawn_on=on)]


def close(
    state: EnrolmentWindowState, command: CloseEnrolmentWindow, on: date
) -> Sequence[DomainEvent]:
    _require_opened(state, command.tender_id)
    if state.frozen_on is not None:
        raise RuleViolation(
            "ENROLMENT_ALREADY_CLOSED",
            f"the participant list of tender {command.tender_id} was already frozen on"
            f" {state.frozen_on}",
        )
    assert state.opens_on is not None
    if on < state.opens_on:
        raise RuleViolation(
            "INVALID_ENROLMENT_PERIOD",
            f"the window of tender {command.tender_id} cannot close on {on}, before it opens"
            f" ({state.opens_on})",
        )
    days = [
        (day, p.organisation_code)
        for p in state.participants.values()
        if (day := _last_day(p)) is not None
    ]
    if days:
        day, code = max(days)
        _not_before(on, day, "the freeze of the participant list", f"the last change of {code}")
    if not state.enrolled:
        raise RuleViolation(
            "NO_PARTICIPANTS",
            f"no body enrolled for tender {command.tender_id}; a joint tender needs participants",
        )
    participants = [
        Participant(organisation_code=code, lot_ids=sorted(lots))
        for code, lots in sorted(state.enrolled.items())
    ]
    return [
        ParticipantListFrozen(tender_id=command.tender_id, frozen_on=on, participants=participants)
    ]
