"""The event log's count at a past horizon from the stored counts (asof11) equals counting
the log's rows at that horizon, and the owner's rule for what was known (`known_by`), on
generated histories: events backdated across the counts' cells, aggregates recorded
backwards (a later version recorded before an earlier one: known only with it), random
batch cuts, horizons on and beside the cells' edges, known now and at a known instant.

Real SQLite, the projections' own runner batch path (as a rebuild applies them)."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bootstrap.runners import projection_runner
from contracts_schema.envelope import EventEnvelope
from contracts_schema.subjects import ENROLMENT, REGISTRY
from eventstore.bitemporal_sql import micros
from eventstore.known_time import known_by
from eventstore.records import StoredEvent
from eventstore.sql import make_engine
from gateway.projections import EventCountsProjection, EventLogProjection
from gateway.projections.event_counts import BUCKET, DAY
from gateway.readmodels import KNOWN_NOW, ReadModels
from gateway.schema.pagination import page_rows

START = datetime(2024, 1, 1, tzinfo=UTC)
WEEK = timedelta(microseconds=BUCKET)
CONTEXTS = (REGISTRY, ENROLMENT)

# One event: (context, aggregate, days after START it happened, hours it was recorded after
# the aggregate's previous recording: negative = recorded backwards, before its predecessor)
events_ = st.lists(
    st.tuples(
        st.sampled_from(CONTEXTS),
        st.sampled_from(["a", "b", "c", "d"]),
        st.integers(0, 60),
        st.integers(-400, 400),
    ),
    min_size=1,
    max_size=40,
)


def history(drawn: list[tuple[Any, str, int, int]]) -> dict[str, list[StoredEvent]]:
    versions: dict[tuple[str, str], int] = {}
    recorded: dict[tuple[str, str], datetime] = {}
    streams: dict[str, list[StoredEvent]] = {}
    for i, (context, aggregate, day, hours) in enumerate(drawn):
        key = (context.name, aggregate)
        versions[key] = versions.get(key, 0) + 1
        at = recorded.get(key, START + timedelta(days=day)) + timedelta(hours=hours, seconds=i)
        recorded[key] = at
        envelope = EventEnvelope.model_validate(
            {
                "event_id": f"e-{i}",
                "event_type": "EntryRecorded",
                "schema_version": 1,
                "context": context.name,
                "aggregate_type": "thing",
                "aggregate_id": aggregate,
                "aggregate_version": versions[key],
                "occurred_at": (START + timedelta(days=day, minutes=i)).isoformat(),
                "recorded_at": at.isoformat(),
                "actor": "tester",
                "command_id": f"c-{i}",
                "correlation_id": f"c-{i}",
                "prev_hash": None,
                "hash": f"h-{i}",
                "payload": {},
            }
        )
        stream = streams.setdefault(context.stream, [])
        stream.append(StoredEvent(envelope, context.stream, len(stream) + 1, "s"))
    return streams


def horizons(streams: dict[str, list[StoredEvent]], cut: int) -> Iterator[tuple[int, int]]:
    """Valid instants on, just before and between the cells' edges and the events' own
    instants; known instants at every recording (and a microsecond before), and now."""
    envelopes = [e.envelope for s in streams.values() for e in s]
    valid = {micros(e.occurred_at) for e in envelopes}
    valid |= {v - 1 for v in valid} | {v + BUCKET // 2 for v in valid}
    for cell in (BUCKET, DAY):  # the cells' edges: weeks (v2) and days (v3)
        valid |= {(v // cell) * cell for v in valid} | {(v // cell) * cell - 1 for v in valid}
    known = {micros(e.recorded_at) for e in envelopes}
    known |= {k - 1 for k in known} | {(k // BUCKET) * BUCKET for k in known} | {KNOWN_NOW}
    known |= {(k // DAY) * DAY for k in known if k != KNOWN_NOW}
    chosen_valid = sorted(valid)[cut % 9 :: 9] or sorted(valid)
    for v in chosen_valid:
        for k in [*sorted(known)[cut % 6 :: 6], KNOWN_NOW]:
            yield v, k


def build(url: str, streams: dict[str, list[StoredEvent]], batch: int) -> Any:
    engine = make_engine(url)
    for kind in (EventLogProjection, EventCountsProjection):
        runner = projection_runner(None, engine, kind(), batch=batch)  # type: ignore[arg-type]
        runner.create_tables()
        for context in kind.contexts:
            events = streams.get(context.stream, [])
            for first in range(0, len(events), batch):
                runner.apply_batch(context.stream, events[first : first + batch])
    return engine


async def counts(read: ReadModels, valid: int, known: int) -> tuple[int, int]:
    at = read.at(valid, known)
    rows = await at.scalar(select(func.count()).select_from(at.event_log.events))
    found = at.event_count()
    assert found is not None
    stored = await at.scalar(*found)
    return int(rows), int(stored)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=events_, batch=st.integers(1, 12), cut=st.integers(0, 34))
def test_the_stored_count_is_the_count_of_the_log_at_every_horizon(
    drawn: list[tuple[Any, str, int, int]], batch: int, cut: int
) -> None:
    streams = history(drawn)
    envelopes = [e.envelope for s in streams.values() for e in s]
    with tempfile.TemporaryDirectory() as directory:
        engine = build(f"sqlite:///{Path(directory) / 'views.db'}", streams, batch)
        try:
            read = ReadModels(engine)

            async def check() -> None:
                for valid, known in horizons(streams, cut):
                    d = datetime.fromtimestamp(valid / 1e6, UTC)
                    k = None if known == KNOWN_NOW else datetime.fromtimestamp(known / 1e6, UTC)
                    seen = known_by(envelopes, k) if k is not None else envelopes
                    expected = sum(1 for e in seen if e.occurred_at <= d)
                    assert await counts(read, valid, known) == (expected, expected), (valid, known)

            asyncio.run(check())
        finally:
            engine.dispose()


def test_the_present_counts_the_log_itself() -> None:
    """At the present the log's own rows are counted (the counts may lag it by a batch)."""
    engine = make_engine("sqlite://")
    try:
        assert ReadModels(engine).at_now().event_count() is None
        assert ReadModels(engine).event_count() is None
    finally:
        engine.dispose()


def test_the_first_and_last_days_asked_are_counted(tmp_path: Path) -> None:
    """0001-01-02's week starts in year 0 (no datetime): its strip starts at the first
    instant there is (before: ValueError inside the request); 9999-12-30 counts everything."""
    streams = history([(REGISTRY, "a", 3, 0), (ENROLMENT, "b", 40, -2)])
    engine = build(f"sqlite:///{tmp_path / 'views.db'}", streams, 1)
    first = micros(datetime(1, 1, 2, 23, 59, tzinfo=UTC))
    last = micros(datetime(9999, 12, 30, 23, 59, 59, tzinfo=UTC))
    try:
        read = ReadModels(engine)
        for known in (first, KNOWN_NOW):
            assert asyncio.run(counts(read, first, known)) == (0, 0)
        assert asyncio.run(counts(read, last, KNOWN_NOW)) == (2, 2)
        assert asyncio.run(counts(read, last, last)) == (2, 2)
    finally:
        engine.dispose()


@pytest.mark.parametrize("behind", ["counts", "log"])
def test_counts_out_of_step_with_the_log_count_the_rows(tmp_path: Path, behind: str) -> None:
    """The counts' runner and the log's commit apart: at a past `asOf` known now, events
    recorded since the request's `reach_present` can be in one and not yet in the other.
    The stored count then answers NULL and a page counts its own rows, in one statement;
    before (review14), the page listed 3 events under a `totalCount` of 2."""
    streams = history(
        [
            (REGISTRY, "a", 3, 0),
            (REGISTRY, "b", 10, 0),
            (REGISTRY, "c", 20, 0),
            (REGISTRY, "d", 1, 1440),
        ]
    )
    events = streams[REGISTRY.stream]
    engine = make_engine(f"sqlite:///{tmp_path / 'views.db'}")
    log = projection_runner(None, engine, EventLogProjection(), batch=10)  # type: ignore[arg-type]
    grid = projection_runner(None, engine, EventCountsProjection(), batch=10)  # type: ignore[arg-type]
    for runner in (log, grid):
        runner.create_tables()
    first, second = (log, grid) if behind == "counts" else (grid, log)
    first.apply_batch(REGISTRY.stream, events)  # the backdated event, recorded late, too
    second.apply_batch(REGISTRY.stream, events[:3])
    at = ReadModels(engine).at(micros(START + timedelta(days=15)), KNOWN_NOW)
    counted = at.event_count()
    assert counted is not None

    async def check() -> None:
        assert await at.scalar(*counted) is None  # not a number the rows do not bear out
        table = at.event_log.events
        context: Any = SimpleNamespace(settings=SimpleNamespace(max_page_size=100), read=at)
        total, rows, _, _ = await page_rows(
            context,
            select(table),
            [(table.c.seq, False)],
            100,
            None,
            counted=counted,
            listed=lambda: ("events", {}),
        )
        assert (total, len(rows)) == ((3, 3) if behind == "counts" else (2, 2))

    asyncio.run(check())
