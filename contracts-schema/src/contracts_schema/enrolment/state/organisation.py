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
    # Valid days (None in events stored before they were recorded): from when it is
    # registered, and from when its current name holds. A registration sent again with the
    # details it was registered with and an earlier day dates it back.
    registered_on: date | None = None
    named_on: date | None = None
    registered_name: str = ""  # the name it was registered with

    def registered_as(self, event: OrganisationRegistered) -> bool:
        """Whether `event` registers it again with the details it was registered with."""
        return (self.registered_name, self.kind, self.province) == (
            event.name,
            event.kind,
            event.province,
        )

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
        if not state.registered:
            return OrganisationState(
                event.code,
                event.name,
                event.kind,
                event.province,
                registered_on=event.registered_on,
                named_on=event.registered_on,
                registered_name=event.name,
            )
        if not state.registered_as(event):
            raise _error(state, event, "it is already registered")
        # The same registration again: from the earlier of the two days (in either order of
        # folding, the same state).
        named_on = state.named_on
        if state.name == state.registered_name:
            named_on = _earlier(named_on, event.registered_on)
        return replace(
            state,
            registered_on=_earlier(state.registered_on, event.registered_on),
            named_on=named_on,
        )
    if type(event) in IGNORED:
        return state
    if not state.registered and type(event) in HANDLED:
        raise _error(state, event, "it was never registered")
    match event:
        case OrganisationRenamed():
            return replace(
                state,
                name=event.name,
                previous_names=(*state.previous_names, state.name),
                named_on=event.renamed_on,
            )
        case MunicipalityMerged():
            return replace(state, successor_code=event.successor_code, merged_on=event.effective_on)
    raise _error(state, event, "it is not an event of the organisation aggregate")


def _earlier(a: date | None, b: date | None) -> date | None:
    if a is None or b is None:
        return a or b
    return min(a, b)


def _error(state: OrganisationState, event: DomainEvent, why: str) -> FoldError:
    return FoldError(f"{event.event_type} cannot apply to organisation {state.code}: {why}")
