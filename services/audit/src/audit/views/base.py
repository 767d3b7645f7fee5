"""What an audit view is: a pure fold of envelopes into a JSON-shaped state.

Views read the cross-context contract (event names and payload fields fixed in the team
brief) straight from the envelopes' payloads, so the audit trail does not depend on the
owning service's in-memory state types, and unknown event types are kept, never dropped.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from contracts_schema.envelope import EventEnvelope

State = dict[str, Any]
Evolve = Callable[[State, EventEnvelope], State]
Derive = Callable[[State, date], State]


def _no_derivation(state: State, as_of: date) -> State:
    return state


@dataclass(frozen=True)
class View:
    aggregate_type: str
    evolve_known: dict[str, Evolve]  # event type -> handler on a private copy of the state
    derive: Derive = _no_derivation  # fields that depend on the as-of date (standstill, status)

    def initial(self, aggregate_id: str) -> State:
        return {"id": aggregate_id, "exists": False}

    def evolve(self, state: State, envelope: EventEnvelope) -> State:
        new = copy.deepcopy(state)
        new["exists"] = True
        handler = self.evolve_known.get(envelope.event_type)
        if handler is None:
            # An event this view does not interpret is still part of the history.
            new.setdefault("other_events", []).append(envelope.event_type)
            return new
        return handler(new, envelope)


def day(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def take(state: State, payload: dict[str, Any], *fields: str) -> State:
    for name in fields:
        if name in payload:
            state[name] = payload[name]
    return state
