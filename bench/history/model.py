"""What the synthetic history is made of: commits of events, in transaction-time order."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from eventstore.hashing import canonical_json

REGISTRY = "registry"
ENROLMENT = "enrolment"


@dataclass(frozen=True)
class SyntheticEvent:
    event_type: str
    payload: dict[str, Any]  # JSON-ready (dates as ISO strings), fields as in TEAM.md
    occurred_at: datetime  # valid time


@dataclass(frozen=True)
class Commit:
    """What one command would append: events of one aggregate, all or none."""

    context: str
    aggregate_type: str
    aggregate_id: str
    events: tuple[SyntheticEvent, ...]
    recorded_at: datetime  # transaction time
    command_id: str
    actor: str
    order: int = field(default=0, compare=False)  # tie-break for equal recorded_at

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.context, self.aggregate_type, self.aggregate_id)

    def as_json(self) -> dict[str, Any]:
        return {
            "context": self.context,
            "aggregate_type": self.aggregate_type,
            "aggregate_id": self.aggregate_id,
            "recorded_at": self.recorded_at.isoformat(),
            "command_id": self.command_id,
            "actor": self.actor,
            "events": [
                {
                    "event_type": e.event_type,
                    "occurred_at": e.occurred_at.isoformat(),
                    "payload": e.payload,
                }
                for e in self.events
            ],
        }


@dataclass(frozen=True)
class History:
    seed: int
    commits: tuple[Commit, ...]

    @property
    def event_count(self) -> int:
        return sum(len(c.events) for c in self.commits)

    def counts_by_type(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for commit in self.commits:
            for event in commit.events:
                counts[event.event_type] = counts.get(event.event_type, 0) + 1
        return dict(sorted(counts.items()))

    def digest(self) -> str:
        return history_digest(self.commits)


def history_digest(commits: Iterable[Commit]) -> str:
    """SHA-256 over the canonical JSON of every commit, in order."""
    h = hashlib.sha256()
    for commit in commits:
        h.update(canonical_json(commit.as_json()))
        h.update(b"\n")
    return h.hexdigest()


def at(day: date, hour: int = 9, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)
