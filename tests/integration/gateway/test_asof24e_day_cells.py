"""The event log's count at a past horizon reads one day's events on each edge, not one
week's (asof24e, `projections.event_counts` v3: the days of D's and K's weeks before their own
summed from stored cells of (valid day, known day)).

(1) Two histories alike but for 1,500 events that happened in D's week before D's day and
were recorded in K's week before K's day: the count statement at (D, K), and known now at D,
runs the same number of SQLite VM steps give or take a few stored cells. v2 (the strips a
week each) counted both edge strips from the log: every one of those events, twice (the
bench's 1M history holds ~960 events a week, ~140 a day).
(2) Each count is the events known at K that had happened by D (the owner's rule).
(3) The day cells' edges are the tree's weeks' edges.

Real SQLite, the projections' own runner batch path (as a rebuild applies them)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event

from contracts_schema.calendar import end_of_dutch_day
from contracts_schema.subjects import REGISTRY
from eventstore.bitemporal_sql import micros
from eventstore.known_time import known_by
from eventstore.records import StoredEvent
from gateway.projections import EventCountsProjection
from gateway.projections.event_counts import BUCKET, DAY, bucket, day
from gateway.readmodels import KNOWN_NOW, ReadModels
from tests.integration.gateway.test_event_counts import build, history

D = date(2024, 1, 10)  # a Wednesday: the last day of its week (weeks start on Thursdays)
VALID = end_of_dutch_day(D)
KNOWN = datetime(2024, 1, 10, 12, tzinfo=UTC)


def _drawn(busy: int) -> list[tuple[Any, str, int, int]]:
    """A few events over the weeks before D, three on D's day (recorded by K), and `busy`
    events of their own aggregates that happened on 2024-01-04..08 (D's week, before D's
    day) and were recorded a day later (K's week, before K's day)."""
    drawn: list[tuple[Any, str, int, int]] = [
        (REGISTRY, f"early{w}", d, 2) for w, d in enumerate((-20, -13, -6, 0, 1, 2))
    ]
    drawn += [(REGISTRY, f"today{i}", 9, 1) for i in range(3)]
    # (an event's index is minutes added to its instant: these last, the others' unmoved)
    drawn += [(REGISTRY, f"late{i}", 3 + i % 4, 24) for i in range(busy)]
    return drawn


def _steps(
    url: str, streams: dict[str, list[StoredEvent]], valid: int, known: int
) -> tuple[int, int]:
    """(VM steps, the count) of the stored count's statement at (valid, known), run warm."""
    engine = build(url, streams, 500)
    counted = [0]

    def tick() -> int:
        counted[0] += 1
        return 0

    @event.listens_for(engine, "connect")
    def _count_steps(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.set_progress_handler(tick, 1)

    engine.dispose()  # connections opened from here on count their VM steps
    try:
        at = ReadModels(engine).at(valid, known)
        found = at.event_count()
        assert found is not None
        statement, parameters = found

        async def run() -> int:
            total = await at.scalar(statement, parameters)
            counted[0] = 0
            assert await at.scalar(statement, parameters) == total
            return int(total)

        total = asyncio.run(run())
        return counted[0], total
    finally:
        engine.dispose()


def _expected(streams: dict[str, list[StoredEvent]], known: datetime | None) -> int:
    envelopes = [e.envelope for s in streams.values() for e in s]
    seen = known_by(envelopes, known) if known is not None else envelopes
    return sum(1 for e in seen if e.occurred_at <= VALID)


def test_the_count_reads_one_day_on_each_edge_not_the_week(tmp_path: Path) -> None:
    assert EventCountsProjection.version >= 3
    quiet, busy = history(_drawn(0)), history(_drawn(1_500))
    # the busy events are where the test says: D's week and K's week, before their days
    late = [e.envelope for e in busy[REGISTRY.stream] if e.envelope.aggregate_id.startswith("l")]
    assert len(late) == 1_500
    week_start = datetime.fromtimestamp(bucket(micros(VALID)) * BUCKET / 1e6, UTC)
    for e in late:
        assert week_start <= e.occurred_at < datetime(2024, 1, 10, tzinfo=UTC)
        assert week_start <= e.recorded_at < datetime(2024, 1, 10, tzinfo=UTC)
    for known in (KNOWN, None):
        k = KNOWN_NOW if known is None else micros(known)
        name = "now" if known is None else "k"
        few, few_total = _steps(f"sqlite:///{tmp_path / f'q{name}.db'}", quiet, micros(VALID), k)
        many, many_total = _steps(f"sqlite:///{tmp_path / f'b{name}.db'}", busy, micros(VALID), k)
        assert few_total == _expected(quiet, known) > 0
        assert many_total == _expected(busy, known) == few_total + 1_500
        # v2: the busy history's count read each of the 1,500 events in its strips.
        assert many <= few + 300, (known, few, many)


def test_a_week_is_seven_days_from_its_first() -> None:
    """The day cells and the tree's weeks share their edges (both counted from the epoch by
    floor division): week w is days 7w ... 7w + 6, before 1970 too."""
    for at in (
        datetime(2024, 1, 4, tzinfo=UTC),  # a Thursday: a week's first day
        datetime(2024, 1, 10, 23, 59, 59, tzinfo=UTC),
        datetime(1969, 12, 31, 12, tzinfo=UTC),
        datetime(1, 1, 2, tzinfo=UTC),
    ):
        moment = micros(at)
        assert bucket(moment) * 7 <= day(moment) < bucket(moment) * 7 + 7
        assert day(bucket(moment) * BUCKET) == bucket(moment) * 7
        assert day(moment) * DAY <= moment < (day(moment) + 1) * DAY
