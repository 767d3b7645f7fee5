"""Row versions of one entity with validity intervals in both clocks (pure).

An entity's versions, as known after a set of events, are the states after each distinct
valid day: version i is valid from the start of its events' Dutch calendar day to the
next version's (valid time is a day, as in the gateway's read models).
A backdated or correcting event re-derives the whole list, and the previous list is closed
in transaction time, so what was known at an earlier K stays answerable unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from audit.bitemporal import valid_order
from audit.folding import reader_for, render
from contracts_schema.calendar import start_of_dutch_day
from contracts_schema.envelope import EventEnvelope


def utc_text(moment: datetime) -> str:
    """Sortable text in UTC: compares the same on SQLite and PostgreSQL."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def valid_text(envelope: EventEnvelope) -> str:
    """When a fact became valid, as sortable text: the start of its Dutch calendar day (valid
    time is a day, as in the gateway's read models)."""
    return utc_text(start_of_dutch_day(envelope.occurred_at))


def state_text(state: dict[str, Any]) -> str:
    return json.dumps(state, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Version:
    valid_from: str
    valid_to: str | None
    state: str  # canonical JSON


def derive_versions(
    aggregate_type: str, aggregate_id: str, envelopes: Iterable[EventEnvelope]
) -> list[Version]:
    """All versions of an entity from all its events."""
    return derive_tail(aggregate_type, aggregate_id, None, [], envelopes)


def derive_tail(
    aggregate_type: str,
    aggregate_id: str,
    base: Version | None,
    earlier: Iterable[EventEnvelope],
    later: Iterable[EventEnvelope],
) -> list[Version]:
    """The versions from `base` on, given every event before the changed instant
    (`earlier`) and every event at or after it (`later`).

    `base` is the version in force just before the earliest changed instant. The owner's
    fold state cannot be read back from stored JSON, so the earlier events are folded again;
    only the tail gets new versions.
    """
    earlier, later = sorted(earlier, key=valid_order), list(later)
    start = reader_for(aggregate_type, [*earlier, *later]).replay(aggregate_id, earlier)
    return fold_tail(aggregate_type, aggregate_id, base, start, later)[0]


def fold_tail(
    aggregate_type: str,
    aggregate_id: str,
    base: Version | None,
    start: Any,
    later: Iterable[EventEnvelope],
) -> tuple[list[Version], Any]:
    """The versions from `base` on and the state after them, from the fold's state before
    the changed instant (`start`) and every event at or after it (`later`)."""
    later = sorted(later, key=valid_order)
    reader = reader_for(aggregate_type, later)
    state = start
    steps: list[tuple[str, str]] = [(base.valid_from, base.state)] if base else []
    for envelope in later:
        state = reader.step(state, envelope).state
        instant, text = valid_text(envelope), state_text(render(state))
        if steps and steps[-1][0] == instant:
            steps[-1] = (instant, text)
        else:
            steps.append((instant, text))
    merged: list[tuple[str, str]] = []
    for instant, text in steps:
        if not merged or merged[-1][1] != text:
            merged.append((instant, text))
    versions = [
        Version(instant, merged[i + 1][0] if i + 1 < len(merged) else None, text)
        for i, (instant, text) in enumerate(merged)
    ]
    return versions, state
