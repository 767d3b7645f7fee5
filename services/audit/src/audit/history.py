"""Timelines and per-field history of one aggregate, under a bitemporal horizon."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from audit.bitemporal import Horizon, visible
from audit.folding import reader_for, render
from audit.summaries import summarise
from contracts_schema.envelope import EventEnvelope

MISSING = object()
State = dict[str, Any]


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
    refused: str | None = None  # why the owner's fold did not apply it

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
            "refused": self.refused,
        }


@dataclass(frozen=True)
class Replay:
    aggregate_type: str
    aggregate_id: str
    horizon: Horizon
    state: State
    timeline: tuple[TimelineEntry, ...]
    field_history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def exists(self) -> bool:
        """Whether any event of the aggregate counts at this horizon."""
        return any(entry.refused is None for entry in self.timeline)

    def as_json(self) -> dict[str, Any]:
        return {
            "aggregate_type": self.aggregate_type,
            "aggregate_id": self.aggregate_id,
            "as_of": self.horizon.as_of.isoformat(),
            "known_at": self.horizon.known_at.isoformat(),
            "exists": self.exists,
            "state": self.state,
            "timeline": [t.as_json() for t in self.timeline],
            "field_history": self.field_history,
        }


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Leaf paths of a rendered state. A list of objects is walked too: by each element's
    first field when that is an id (`lots.L1.status`), by position otherwise."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key in value:
            out.update(flatten(value[key], f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list) and value and all(isinstance(v, dict) and v for v in value):
        out = {}
        for i, element in enumerate(value):
            first = next(iter(element))
            label = element[first] if first.endswith("_id") else i
            out.update(flatten(element, f"{prefix}.{label}"))
        return out
    return {prefix: value} if prefix else {}


def diff(before: State, after: State) -> tuple[Change, ...]:
    old, new = flatten(before), flatten(after)
    return tuple(
        Change(path, old.get(path), new.get(path))
        for path in sorted(old.keys() | new.keys())
        if old.get(path, MISSING) != new.get(path, MISSING)
    )


def replay(
    aggregate_type: str,
    aggregate_id: str,
    envelopes: Iterable[EventEnvelope],
    at: Horizon,
) -> Replay:
    """The owner's fold over the envelopes that count at (D, K), with a timeline."""
    counted = visible(envelopes, at)
    reader = reader_for(aggregate_type, counted)
    state = reader.initial(aggregate_id)
    shown: State = render(state)
    entries: list[TimelineEntry] = []
    history: dict[str, list[dict[str, Any]]] = {}
    for envelope in counted:
        step = reader.step(state, envelope)
        after: State = render(step.state)
        changes = diff(shown, after)
        summary = summarise(envelope.event_type, step.event, changes, step.refused)
        entries.append(TimelineEntry(envelope, summary, changes, step.refused))
        for change in changes:
            history.setdefault(change.path, []).append(_version(envelope, change.after))
        state, shown = step.state, after
    return Replay(aggregate_type, aggregate_id, at, shown, tuple(entries), history)


def _version(envelope: EventEnvelope, value: Any) -> dict[str, Any]:
    # Shaped like an OCDS versionedRelease entry, plus the transaction time.
    return {
        "releaseID": envelope.event_id,
        "releaseDate": envelope.occurred_at.isoformat(),
        "recordedAt": envelope.recorded_at.isoformat(),
        "releaseTag": [envelope.event_type],
        "value": value,
    }
