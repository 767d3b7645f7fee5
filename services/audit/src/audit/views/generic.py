"""Any other aggregate: the latest value of every payload field, so nothing is hidden."""

from __future__ import annotations

from audit.views.base import State, View
from contracts_schema.envelope import EventEnvelope


def generic_view(aggregate_type: str) -> View:
    return _Generic(aggregate_type, {})


class _Generic(View):
    def evolve(self, state: State, envelope: EventEnvelope) -> State:
        new = dict(state, exists=True)
        new.update(envelope.payload)
        new["last_event"] = envelope.event_type
        return new
