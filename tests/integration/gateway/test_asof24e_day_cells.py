"""The event log's count at a past horizon reads one day's events on each edge, not one
week's (asof24e, `projections.event_counts` v3: the Fenwick tree's cells are days).

(1) Two histories alike but for 1,500 events that happened in D's week before D's day and
were recorded in K's week before K's day: the count statement at (D, K), and known now at D,
runs the same number of SQLite VM steps give or take a few tree nodes. v2 (cells of a week)
counted both edge strips from the log: every one of those events, twice (the bench's 1M
history holds ~960 events a week, ~140 a day).
(2) Each count is the events known at K that had happened by D (the owner's rule).
(3) The grids' arithmetic: every instant a datetime holds has its own cell in the tree.

Real SQLite, the projections' own runner batch path (as a rebuild applies them)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event

from contracts_schema.calendar import end_of_dutch_day
from contracts_schema.subjects import REGISTRY
from eventstore.bitemporal_sql import micros
from eventstore.known_time import known_by
from eventstore.records import StoredEvent
from gateway.projections import EventCountsProjection
from gateway.projections.event_counts import DAYS, EARLIEST, WEEKS, downward
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
    week_start = WEEKS.start(WEEKS.cell(micros(VALID)))
    assert week_start is not None
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


def test_every_instant_has_its_own_cell() -> None:
    """Every day a datetime can fall in is a cell of its own in the tree (a clamped cell
    would be miscounted by a horizon beyond it); a prefix holds each earlier cell once."""
    last = micros(datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC))
    for grid in (WEEKS, DAYS):
        first_cell, last_cell = grid.cell(EARLIEST), grid.cell(last)
        assert grid.place(first_cell) == 1
        assert grid.place(last_cell) < grid.size
        assert grid.start(first_cell) == datetime(1, 1, 1, tzinfo=UTC)
    cells = [
        DAYS.cell(micros(datetime(2024, 1, d, tzinfo=UTC) + timedelta(hours=h)))
        for d in (9, 10)
        for h in (0, 23)
    ]
    assert cells[0] == cells[1] != cells[2] == cells[3]
    for cell in cells:
        assert DAYS.start(cell) == datetime.fromtimestamp(cell * 86_400, UTC)
        chain = DAYS.before(cell)
        assert chain == downward(DAYS.place(cell) - 1)
        for earlier in (cell - 1, cell - 400):
            covering = [i for i in chain if i in DAYS.upward(earlier)]
            assert len(covering) == 1
        assert not [i for i in chain if i in DAYS.upward(cell)]
