"""Timelines and per-field history of one aggregate, under a bitemporal horizon."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from audit.bitemporal import Horizon, visible
from audit.summaries import summarise
from audit.views import State, view_for
from contracts_schema.envelope import EventEnvelope

MISSING = object()


@dataclass(frozen=True)
class Change:
    path: str
    before: Any
    after: Any

    def as_json(self) -> dict[str, Any]:
        return {"path": self.path, "before": self.before, "after": self.after}


@dataclass(frozen=True)
class TimelineEntry:
    envelope: EventEnvelope
    summary: str
    changes: tuple[Change, ...]

    def as_json(self) -> dict[str, Any]:
        e = self.envelope
        return {
            "event_id": e.event_id,
            "event_type": e.event_type,
            "aggregate_version": e.aggregate_version,
            "occurred_at": e.occurred_at.isoformat(),
            "recorded_at": e.recorded_at.isoformat(),
            "actor": e.actor,
            "command_id": e.command_id,
            "summary": self.summary,
            "changes": [c.as_json() for c in self.changes],
        }


@dataclass(frozen=True)
class Replay:
    aggregate_type: str
    aggregate_id: str
    horizon: Horizon
    state: State
    timeline: tuple[TimelineEntry, ...]
    field_history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "aggregate_type": self.aggregate_type,
            "aggregate_id": self.aggregate_id,
            "as_of": self.horizon.as_of.isoformat(),
            "known_at": self.horizon.known_at.isoformat(),
            "state": self.state,
            "timeline": [t.as_json() for t in self.timeline],
            "field_history": self.field_history,
        }


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key in sorted(value):
            out.update(flatten(value[key], f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value} if prefix else {}


def diff(before: State, after: State) -> tuple[Change, ...]:
    old, new = flatten(before), flatten(after)
    return tuple(
        Change(path, old.get(path), new.get(path))
        for path in sorted(old.keys() | new.keys())
        if old.get(path, MISSING) != new.get(path, MISSING) and path != "exists"
    )


def replay(
    aggregate_type: str,
    aggregate_id: str,
    envelopes: Iterable[EventEnvelope],
    at: Horizon,
) -> Replay:
    view = view_for(aggregate_type)
    state = view.initial(aggregate_id)
    entries: list[TimelineEntry] = []
    history: dict[str, list[dict[str, Any]]] = {}
    for envelope in visible(envelopes, at):
        after = view.evolve(state, envelope)
        changes = diff(state, after)
        entries.append(TimelineEntry(envelope, summarise(envelope, changes), changes))
        for change in changes:
            history.setdefault(change.path, []).append(_version(envelope, change.after))
        state = after
    return Replay(
        aggregate_type,
        aggregate_id,
        at,
        view.derive(state, at.as_of_date),
        tuple(entries),
        history,
    )


def _version(envelope: EventEnvelope, value: Any) -> dict[str, Any]:
    # Shaped like an OCDS versionedRelease entry, plus the transaction time.
    return {
        "releaseID": envelope.event_id,
        "releaseDate": envelope.occurred_at.isoformat(),
        "recordedAt": envelope.recorded_at.isoformat(),
        "releaseTag": [envelope.event_type],
        "value": value,
    }


def by_aggregate(envelopes: Sequence[EventEnvelope]) -> dict[tuple[str, str], list[EventEnvelope]]:
    groups: dict[tuple[str, str], list[EventEnvelope]] = {}
    for e in envelopes:
        groups.setdefault((e.aggregate_type, e.aggregate_id), []).append(e)
    return groups
