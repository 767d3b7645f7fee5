"""Folding stored envelopes with the owner's published fold (`contracts_schema.folds`).

The audit gives no event a meaning of its own: each envelope is decoded to its typed event
and handed to the owner's `evolve`. An event the fold refuses (it does not decode, or it
cannot apply to the state) stays in the history, marked refused, and changes nothing. An
aggregate type without a published fold (the notifier's) is shown as its envelope listing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from audit.jsonstate import JSON, to_json
from contracts_schema.base import DomainEvent
from contracts_schema.envelope import EventEnvelope
from contracts_schema.folds import FOLDS, Fold, typed_event

# Which context owns which aggregate type, from the published folds.
OWNERS: dict[str, str] = {aggregate_type: context for context, aggregate_type in FOLDS}


def fold_for(context: str, aggregate_type: str) -> Fold[Any] | None:
    return FOLDS.get((context, aggregate_type))


@dataclass(frozen=True)
class Listing:
    """The state of an aggregate without a fold: the envelopes seen, in valid-time order."""

    aggregate_id: str
    events: tuple[dict[str, Any], ...] = ()

    @property
    def exists(self) -> bool:
        return bool(self.events)


@dataclass(frozen=True)
class Step:
    state: Any
    event: DomainEvent | None  # None when the envelope did not decode
    refused: str | None = None  # why the fold did not apply it


class Reader:
    """One aggregate type's fold (or listing), applied envelope by envelope."""

    def __init__(self, context: str, aggregate_type: str) -> None:
        self.fold = fold_for(context, aggregate_type)

    def initial(self, aggregate_id: str) -> Any:
        return self.fold.initial(aggregate_id) if self.fold else Listing(aggregate_id)

    def step(self, state: Any, envelope: EventEnvelope) -> Step:
        if self.fold is None:
            entry = {
                "event_type": envelope.event_type,
                "occurred_at": envelope.occurred_at.isoformat(),
                "payload": envelope.payload,
            }
            return Step(Listing(state.aggregate_id, (*state.events, entry)), None)
        try:
            event = typed_event(envelope.event_type, envelope.payload, envelope.schema_version)
        except (ValidationError, ValueError) as exc:
            return Step(state, None, f"does not decode: {_first_line(exc)}")
        try:
            return Step(self.fold.evolve(state, event), event)
        except ValueError as exc:  # FoldError: the owner's fold says it cannot apply
            return Step(state, event, str(exc))

    def replay(self, aggregate_id: str, envelopes: Iterable[EventEnvelope]) -> Any:
        state = self.initial(aggregate_id)
        for envelope in envelopes:
            state = self.step(state, envelope).state
        return state


def reader_for(aggregate_type: str, envelopes: Sequence[EventEnvelope] = ()) -> Reader:
    """The owner's reader; an aggregate type no fold knows takes its envelopes' context."""
    context = OWNERS.get(aggregate_type) or next((e.context for e in envelopes), "")
    return Reader(context, aggregate_type)


def render(state: Any) -> JSON:
    rendered: JSON = to_json(state)
    return rendered


def _first_line(exc: Exception) -> str:
    return " ".join(str(exc).split("\n")[:2])
