"""The organisation aggregate (id = its code) as the enrolment service folds it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from contracts_schema.base import DomainEvent
from contracts_schema.enrolment.events import (
    MunicipalityMerged,
    OrganisationKind,
    OrganisationRegistered,
    OrganisationRenamed,
)
from contracts_schema.errors import FoldError
from contracts_schema.frozen import replace


@dataclass(frozen=True)
class OrganisationState:
    code: str
    name: str = ""
    kind: OrganisationKind | None = None  # None until registered
    province: str | None = None
    previous_names: tuple[str, ...] = ()
    successor_code: str | None = None
    merged_on: date | None = None

    @property
    def registered(self) -> bool:
        return self.kind is not None

    @property
    def merged(self) -> bool:
        return self.successor_code is not None


def initial(code: str) -> OrganisationState:
    return OrganisationState(code=code)


HANDLED: frozenset[type[DomainEvent]] = frozenset(
    {OrganisationRegistered, OrganisationRenamed, MunicipalityMerged}
)
IGNORED: frozenset[type[DomainEvent]] = frozenset()


def evolve(state: OrganisationState, event: DomainEvent) -> OrganisationState:
    if isinstance(event, OrganisationRegistered):
        if state.registered:
            raise _error(state, event, "it is already registered")
        return OrganisationState(event.code, event.name, event.kind, event.province)
    if type(event) in IGNORED:
        return state
    if not state.registered and type(event) in HANDLED:
        raise _error(state, event, "it was never registered")
    match event:
        case OrganisationRenamed():
            return replace(
                state, name=event.name, previous_names=(*state.previous_names, state.name)
            )
        case MunicipalityMerged():
            return replace(state, successor_code=event.successor_code, merged_on=event.effective_on)
    raise _error(state, event, "it is not an event of the organisation aggregate")


def _error(state: OrganisationState, event: DomainEvent, why: str) -> FoldError:
    return FoldError(f"{event.event_type} cannot apply to organisation {state.code}: {why}")
