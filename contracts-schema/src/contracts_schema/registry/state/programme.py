"""The programme aggregate as the registry folds it (OT2006, OT2010, OT2017, GT, ...)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from contracts_schema.base import DomainEvent
from contracts_schema.errors import FoldError
from contracts_schema.frozen import replace
from contracts_schema.registry.programme_events import ProgrammePlanned, SuccessorProgrammeLinked


@dataclass(frozen=True)
class ProgrammeState:
    programme_id: str
    name: str = ""
    coordinator: str = ""
    description: str | None = None
    planned_on: date | None = None
    predecessor_programme_id: str | None = None
    successor_programme_ids: tuple[str, ...] = ()

    @property
    def exists(self) -> bool:
        return self.planned_on is not None

    def planned_as(self, event: ProgrammePlanned) -> bool:
        """Whether `event` plans it again as it was planned (on whatever day)."""
        return (self.name, self.coordinator, self.description, self.predecessor_programme_id) == (
            event.name,
            event.coordinator,
            event.description,
            event.predecessor_programme_id,
        )


def initial(programme_id: str) -> ProgrammeState:
    return ProgrammeState(programme_id=programme_id)


HANDLED: frozenset[type[DomainEvent]] = frozenset({ProgrammePlanned, SuccessorProgrammeLinked})
IGNORED: frozenset[type[DomainEvent]] = frozenset()


def evolve(state: ProgrammeState, event: DomainEvent) -> ProgrammeState:
    match event:
        case ProgrammePlanned():
            if state.exists:
                if not state.planned_as(event):
                    raise _error(state, event, "the programme was already planned")
                # The same planning again, dated back: from the earlier day (either order).
                assert state.planned_on is not None
                return replace(state, planned_on=min(state.planned_on, event.planned_on))
            return ProgrammeState(
                programme_id=event.programme_id,
                name=event.name,
                coordinator=event.coordinator,
                description=event.description,
                planned_on=event.planned_on,
                predecessor_programme_id=event.predecessor_programme_id,
            )
        case SuccessorProgrammeLinked():
            if not state.exists:
                raise _error(state, event, "the programme was never planned")
            successors = (*state.successor_programme_ids, event.successor_programme_id)
            return replace(state, successor_programme_ids=successors)
    if type(event) in IGNORED:
        return state
    raise _error(state, event, "it is not an event of the programme aggregate")


def _error(state: ProgrammeState, event: DomainEvent, why: str) -> FoldError:
    return FoldError(f"{event.event_type} cannot apply to programme {state.programme_id}: {why}")
