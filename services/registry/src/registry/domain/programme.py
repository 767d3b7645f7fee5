"""Decisions on a programme: a family of joint procurements with predecessor and successors."""

from __future__ import annotations

from collections.abc import Sequence

from contracts_schema.base import Command, DomainEvent
from contracts_schema.errors import RuleViolation
from contracts_schema.registry.commands import LinkSuccessorProgramme, PlanProgramme
from contracts_schema.registry.events import ProgrammePlanned, SuccessorProgrammeLinked
from contracts_schema.registry.state import ProgrammeState
from contracts_schema.valid_from import first_day_after, why_not_before
from registry.domain.facts import require_known_successor
from registry.domain.rules import DecisionInput, valid_on


def decide_programme(
    state: ProgrammeState, command: Command, ctx: DecisionInput
) -> Sequence[DomainEvent]:
    on = valid_on(ctx)
    match command:
        case PlanProgramme():
            planning = ProgrammePlanned(
                programme_id=command.programme_id,
                name=command.name,
                coordinator=command.coordinator,
                planned_on=on,
                predecessor_programme_id=command.predecessor_programme_id,
                description=command.description,
            )
            if state.exists:
                assert state.planned_on is not None
                if on < state.planned_on and state.planned_as(planning):
                    return [planning]  # dated back: the same planning, an earlier day
                raise RuleViolation(
                    "PROGRAMME_ALREADY_PLANNED",
                    f"programme {command.programme_id} was already planned on"
                    f" {state.planned_on}; a programme id names one programme. To date its"
                    " planning back, send PlanProgramme again with the same details and the"
                    " earlier occurredAt",
                )
            if command.predecessor_programme_id == command.programme_id:
                raise _self_succession(command.programme_id)
            return [planning]
        case LinkSuccessorProgramme():
            if not state.exists:
                raise RuleViolation(
                    "PROGRAMME_NOT_FOUND",
                    f"programme {command.programme_id} has not been planned;"
                    " plan it before linking a successor",
                )
            first = first_day_after(on, state.planned_on)
            if first is not None:
                raise RuleViolation(
                    "PROGRAMME_NOT_YET_PLANNED",
                    why_not_before(
                        f"the successor link of programme {command.programme_id}",
                        on,
                        f"the planning of programme {command.programme_id}",
                        first,
                        "Date the link on or after the planning, or date the planning back"
                        " first (PlanProgramme again, same details, earlier occurredAt).",
                    ),
                )
            successor = command.successor_programme_id
            if successor == command.programme_id:
                raise _self_succession(successor)
            if successor in state.successor_programme_ids:
                raise RuleViolation(
                    "SUCCESSOR_ALREADY_LINKED",
                    f"programme {successor} is already linked as successor of"
                    f" {command.programme_id}; a link is recorded once",
                )
            require_known_successor(ctx.facts, "programme", successor, command.programme_id)
            return [
                SuccessorProgrammeLinked(
                    programme_id=command.programme_id,
                    successor_programme_id=successor,
                    linked_on=on,
                )
            ]
    raise TypeError(f"the programme aggregate does not handle {type(command).__name__}")


def _self_succession(programme_id: str) -> RuleViolation:
    return RuleViolation(
        "SELF_SUCCESSION",
        f"programme {programme_id} cannot succeed itself; a successor is another programme",
    )
