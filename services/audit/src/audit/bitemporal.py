"""Bitemporal folding: the state of an aggregate as of valid time D, as known at time K.

An event counts for (D, K) when the registry had recorded it by K (`recorded_at <= K`, and
its aggregate's earlier versions too: `eventstore.known_time`) and
it was true by D (its Dutch calendar day has begun by D: valid time is a day, as `asOf` is).
Counted events are applied in valid-time order, day by day, ties broken by when they were
recorded, then by the aggregate's version: within a day the order the owner decided in, and
a correction is a new event recorded later, so it wins over the fact it corrects. Events
are never edited. The gateway's bitemporal read models use the same clocks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TypeVar

from contracts_schema.calendar import DUTCH_TIME, end_of_dutch_day, start_of_dutch_day
from contracts_schema.envelope import EventEnvelope
from eventstore.known_time import known_times

# Dates in the domain are Dutch calendar dates: "as of 20 November" ends at midnight there.
LOCAL_ZONE = DUTCH_TIME

S = TypeVar("S")


@dataclass(frozen=True)
class Horizon:
    """Where we stand in both clocks: valid time `as_of`, transaction time `known_at`."""

    as_of: datetime
    known_at: datetime

    @property
    def as_of_date(self) -> date:
        return self.as_of.astimezone(LOCAL_ZONE).date()

    def admits(self, envelope: EventEnvelope) -> bool:
        return envelope.recorded_at <= self.known_at and self.valid_by(envelope)

    def valid_by(self, envelope: EventEnvelope) -> bool:
        """True by D: a fact counts from the start of its Dutch calendar day."""
        return start_of_dutch_day(envelope.occurred_at) <= self.as_of


end_of_day = end_of_dutch_day  # the domain's calendar, in one place


def parse_instant(text: str, *, name: str) -> datetime:
    """A date (whole Dutch day, inclusive) or an ISO 8601 timestamp with a timezone."""
    try:
        if len(text) == 10:
            return end_of_day(date.fromisoformat(text))
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(
            f"{name} must be a date (2020-11-20) or a timestamp with a timezone "
            f"(2020-11-20T12:00:00+01:00); got {text!r}"
        ) from exc
    if value.tzinfo is None:
        raise ValueError(f"{name} timestamp {text!r} needs a timezone (Z or +01:00)")
    return value


def horizon(
    as_of: datetime | None = None, known_at: datetime | None = None, *, now: datetime
) -> Horizon:
    """Both clocks default to now."""
    return Horizon(as_of or now, known_at or now)


def valid_order(envelope: EventEnvelope) -> tuple[datetime, datetime, str, str, str, int]:
    """Day by day; within a day in the order recorded (the order the owner decided in)."""
    return (
        start_of_dutch_day(envelope.occurred_at),
        envelope.recorded_at.astimezone(UTC),
        envelope.context,
        envelope.aggregate_type,
        envelope.aggregate_id,
        envelope.aggregate_version,
    )


def visible(envelopes: Iterable[EventEnvelope], at: Horizon) -> list[EventEnvelope]:
    """Those known at K and valid by D, in valid order. Known: from the latest transaction
    time of the event and its aggregate's earlier versions (`eventstore.known_time`: a
    history recorded before the appender kept them in order may run backwards), which is
    also the tie-break within a day: an aggregate's versions keep their order there."""
    given = list(envelopes)
    known = known_times(given)

    def order(e: EventEnvelope) -> tuple[datetime, datetime, str, str, str, int]:
        return (start_of_dutch_day(e.occurred_at), known[e.event_id].astimezone(UTC),
                *valid_order(e)[2:])  # fmt: skip

    counted = (e for e in given if known[e.event_id] <= at.known_at and at.valid_by(e))
    return sorted(counted, key=order)


def fold(
    evolve: Callable[[S, EventEnvelope], S],
    initial: S,
    envelopes: Iterable[EventEnvelope],
    at: Horizon,
) -> S:
    state = initial
    for envelope in visible(envelopes, at):
        state = evolve(state, envelope)
    return state
