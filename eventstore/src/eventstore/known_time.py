"""When an event became known: its transaction time, never before its predecessor's.

The owner folds an aggregate's events in version order, and a version is decided on all the
versions before it: as known at an instant K, a view holds a prefix of them or it holds a
state the owner never had. The appender seals a version no earlier than its predecessor
(`records.recorded_after`), but a history stored before that rule may run backwards (two
processes' clocks, or one stepped back). Every reader reads it by one rule: an event is known
from the latest `recorded_at` of it and its aggregate's earlier versions (the gateway's
timelines: `timeline.Timeline.record`; the audit's replay, history and OCDS export: here).
For a history recorded by the rule this is its `recorded_at` itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from contracts_schema.envelope import EventEnvelope

AggregateKey = tuple[str, str, str]  # (context, aggregate type, aggregate id)


def known_times(envelopes: Iterable[EventEnvelope]) -> dict[str, datetime]:
    """Each event's known time, by event id (`envelopes`: any order, several aggregates;
    an aggregate's missing earlier versions count as unknown here, not as earlier)."""
    by_aggregate: dict[AggregateKey, list[EventEnvelope]] = {}
    for e in envelopes:
        by_aggregate.setdefault((e.context, e.aggregate_type, e.aggregate_id), []).append(e)
    known: dict[str, datetime] = {}
    for events in by_aggregate.values():
        events.sort(key=lambda e: e.aggregate_version)
        latest: datetime | None = None
        for e in events:
            if latest is None or e.recorded_at > latest:
                latest = e.recorded_at
            known[e.event_id] = latest
    return known


def known_by(envelopes: Iterable[EventEnvelope], known_at: datetime) -> list[EventEnvelope]:
    """Those of `envelopes` known at `known_at`, in the order given."""
    given = list(envelopes)
    known = known_times(given)
    return [e for e in given if known[e.event_id] <= known_at]
