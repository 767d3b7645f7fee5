"""The registry of published folds: for each aggregate type, what its events mean.

A read model (GraphQL rows, audit replay, OCDS, notifications) imports the owner's fold from
here instead of re-reading payload dicts by event name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import reduce
from typing import Any, Generic, TypeVar

from contracts_schema.base import DomainEvent
from contracts_schema.catalogue import EVENT_MODELS, EVENT_TYPES
from contracts_schema.enrolment.state import call_off, enrolment_window, organisation
from contracts_schema.errors import FoldError
from contracts_schema.registry.state import contract, programme, tender
from contracts_schema.upcasting import decode

S = TypeVar("S")

FOLDED_CONTEXTS = frozenset({"registry", "enrolment"})


@dataclass(frozen=True)
class Fold(Generic[S]):
    context: str
    aggregate_type: str
    initial: Callable[[str], S]
    evolve: Callable[[S, DomainEvent], S]
    events: frozenset[type[DomainEvent]]  # every event class of this aggregate type
    handled: frozenset[type[DomainEvent]]  # the events `evolve` gives a meaning
    ignored: frozenset[type[DomainEvent]] = frozenset()  # deliberately no meaning
    # Optional: whether two events commute (folded in either order, equal states), so a
    # backdated one need not refold what follows it (`eventstore.timeline.Commutes`).
    commute: Callable[[DomainEvent, DomainEvent], bool] | None = None

    def replay(self, aggregate_id: str, events: Iterable[DomainEvent]) -> S:
        return reduce(self.evolve, events, self.initial(aggregate_id))


def events_of(
    context: str, aggregate_type: str, models: Iterable[type[DomainEvent]] = EVENT_MODELS
) -> frozenset[type[DomainEvent]]:
    return frozenset(
        m for m in models if (m.context, m.aggregate_type) == (context, aggregate_type)
    )


def _fold(
    context: str,
    aggregate_type: str,
    initial: Callable[[str], S],
    evolve: Callable[[S, DomainEvent], S],
    handled: frozenset[type[DomainEvent]],
    ignored: frozenset[type[DomainEvent]],
    commute: Callable[[DomainEvent, DomainEvent], bool] | None = None,
) -> Fold[S]:
    events = events_of(context, aggregate_type)
    return Fold(context, aggregate_type, initial, evolve, events, handled, ignored, commute)


FOLDS: dict[tuple[str, str], Fold[Any]] = {
    (f.context, f.aggregate_type): f
    for f in (
        _fold(
            "registry",
            "programme",
            programme.initial,
            programme.evolve,
            programme.HANDLED,
            programme.IGNORED,
        ),
        _fold("registry", "tender", tender.initial, tender.evolve, tender.HANDLED, tender.IGNORED),
        _fold(
            "registry",
            "contract",
            contract.initial,
            contract.evolve,
            contract.HANDLED,
            contract.IGNORED,
        ),
        _fold(
            "enrolment",
            "organisation",
            organisation.initial,
            organisation.evolve,
            organisation.HANDLED,
            organisation.IGNORED,
        ),
        _fold(
            "enrolment",
            "enrolment_window",
            enrolment_window.initial,
            enrolment_window.evolve,
            enrolment_window.HANDLED,
            enrolment_window.IGNORED,
            enrolment_window.commute,
        ),
        _fold(
            "enrolment",
            "call_off",
            call_off.initial,
            call_off.evolve,
            call_off.HANDLED,
            call_off.IGNORED,
        ),
    )
}


def coverage_problems(
    models: Iterable[type[DomainEvent]] = EVENT_MODELS,
    folds: dict[tuple[str, str], Fold[Any]] = FOLDS,
) -> list[str]:
    """Every event class of a folded context must be handled or ignored by exactly one fold."""
    problems = []
    for model in models:
        if model.context not in FOLDED_CONTEXTS:
            continue
        owners = [f for f in folds.values() if model in f.handled | f.ignored]
        fold = folds.get((model.context, model.aggregate_type))
        if fold is None:
            problems.append(
                f"{model.__name__}: no fold for {model.context} aggregate {model.aggregate_type}"
            )
        elif owners != [fold]:
            problems.append(
                f"{model.__name__}: the {model.aggregate_type} fold neither handles nor ignores"
                " it; say what it means in its evolve, or list it in IGNORED"
                if fold not in owners
                else f"{model.__name__}: claimed by more than one fold"
            )
    for fold in folds.values():
        overlap = fold.handled & fold.ignored
        if overlap:
            names = ", ".join(sorted(m.__name__ for m in overlap))
            problems.append(f"{fold.aggregate_type}: both handles and ignores {names}")
    return problems


def typed_event(
    event_type: str, payload: dict[str, Any], schema_version: int | None = None
) -> DomainEvent:
    """The typed event (current version) for a stored payload of `schema_version` (None: the
    model's current version); raises pydantic's ValidationError if invalid, and
    `contracts_schema.upcasting.UnreadableEvent` (a ValueError) for an unknown type or
    version. One decode for every reader: `contracts_schema.upcasting.decode`."""
    model = EVENT_TYPES.get(event_type)
    version = model.schema_version if schema_version is None and model else schema_version
    return decode(event_type, version or 1, payload)


__all__ = ["FOLDS", "Fold", "FoldError", "coverage_problems", "events_of", "typed_event"]
