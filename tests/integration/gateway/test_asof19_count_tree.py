"""The event log's count at a past horizon from a Fenwick tree of its (valid week, known
week) cells (asof19, `projections.event_counts` v2).

(1) Through GraphQL, on generated histories (events backdated across weeks, aggregates
recorded backwards, random batch cuts): `events(asOf, knownAt) { totalCount }` at random
horizons == the events known at K (the owner's rule, `known_by`) that had happened by the
end of the Dutch day asked.
(2) The count reads a fixed number of the stored rows: on two histories with the same last
weeks, one 20 weeks long and one 2,000 weeks long, the count statement at the same horizon
runs the same number of SQLite VM steps give or take the few tree nodes one holds and the
other does not. v1 summed every cell before D's week and K's (one row per week here): the
long history's count ran ~2,000 rows more.

Real SQLite, the projections' own runner batch path (as a rebuild applies them)."""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event

from contracts_schema.calendar import end_of_dutch_day
from contracts_schema.subjects import REGISTRY
from eventstore.bitemporal_sql import micros
from eventstore.known_time import known_by
from eventstore.records import StoredEvent
from gateway.app import build_app
from gateway.auth import Role, issue_token
from gateway.projections.event_counts import LEVELS, downward, place, upward
from gateway.readmodels import ReadModels
from tests.integration.gateway.harness import settings as gateway_settings
from tests.integration.gateway.test_event_counts import START, build, events_, history

QUERY = """query E($asOf: Date, $knownAt: DateTime) {
  events(asOf: $asOf, knownAt: $knownAt, first: 1) { totalCount }
}"""

# A horizon: (days after START asked as asOf, which recording K is near (None: known now),
# microseconds added to that recording's instant)
horizons_ = st.lists(
    st.tuples(
        st.integers(-2, 64),
        st.one_of(st.none(), st.integers(0, 10_000)),
        st.sampled_from([-1, 0, 1, 3_600_000_000, 8 * 86_400_000_000]),
    ),
    min_size=1,
    max_size=6,
)


async def _totals(engine: Any, url: str, asked: list[dict[str, Any]]) -> list[int]:
    config = gateway_settings(database_url=url)
    app = build_app(ReadModels(engine), config)
    token = issue_token(config, Role.COORDINATOR, "coordinator-user")
    out = []
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
    ) as client:
        for variables in asked:
            answer = (
                await client.post(
                    "/graphql",
                    json={"query": QUERY, "variables": variables},
                    headers={"authorization": f"Bearer {token}"},
                )
            ).json()
            assert "errors" not in answer, answer
            out.append(answer["data"]["events"]["totalCount"])
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=events_, batch=st.integers(1, 12), asked=horizons_)
def test_the_count_through_graphql_is_the_events_known_and_happened(
    drawn: list[tuple[Any, str, int, int]], batch: int, asked: list[tuple[int, int | None, int]]
) -> None:
    streams = history(drawn)
    envelopes = [e.envelope for s in streams.values() for e in s]
    recordings = sorted({e.recorded_at for e in envelopes})
    variables: list[dict[str, Any]] = []
    expected: list[int] = []
    for days, near, plus in asked:
        day = (START + timedelta(days=days)).date()
        valid = end_of_dutch_day(day)
        known = None
        if near is not None:
            known = recordings[near % len(recordings)] + timedelta(microseconds=plus)
        seen = known_by(envelopes, known) if known is not None else envelopes
        expected.append(sum(1 for e in seen if e.occurred_at <= valid))
        variables.append(
            {"asOf": day.isoformat(), "knownAt": None if known is None else known.isoformat()}
        )
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{Path(directory) / 'views.db'}"
        engine = build(url, streams, batch)
        try:
            assert asyncio.run(_totals(engine, url, variables)) == expected, variables
        finally:
            engine.dispose()


def test_the_chains_sum_each_week_once() -> None:
    """The tree's arithmetic: a week is in the prefix of every later week's chain exactly
    once and in no earlier week's; a chain is never longer than LEVELS."""
    weeks = [1, 2, 3, 7, 8, 1_000, 105_000, 105_001, 2**LEVELS - 1, 2**LEVELS]
    for week in weeks:
        assert len(upward(week)) <= LEVELS + 1
        for prefix in weeks:
            covering = [i for i in downward(prefix) if i in upward(week)]
            assert len(covering) == (1 if week <= prefix else 0), (week, prefix)
    assert place(-(10**9)) == 1
    assert place(10**9) == 2**LEVELS


def _weekly(weeks: int) -> dict[str, list[StoredEvent]]:
    """One event a week for `weeks` weeks up to START + 2 weeks, each its own aggregate,
    every third recorded three weeks late: the same last weeks whatever `weeks` is."""
    drawn = [
        (REGISTRY, f"a{w}", 7 * (2 - w), 21 * 24 if w % 3 == 0 else 1)
        for w in range(weeks - 1, -1, -1)
    ]
    return history(drawn)


def _steps(url: str, streams: dict[str, list[StoredEvent]], valid: int, known: int) -> int:
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
            again = await at.scalar(statement, parameters)
            assert again == total
            return int(total)

        total = asyncio.run(run())
        assert total > 0
        return counted[0]
    finally:
        engine.dispose()


def test_the_count_at_a_known_instant_reads_no_more_for_a_longer_history(
    tmp_path: Path,
) -> None:
    valid = micros(end_of_dutch_day(date(2024, 1, 3)))
    known = micros(datetime(2024, 1, 3, 12, tzinfo=UTC))
    short = _steps(f"sqlite:///{tmp_path / 'short.db'}", _weekly(20), valid, known)
    long = _steps(f"sqlite:///{tmp_path / 'long.db'}", _weekly(2_000), valid, known)
    # v1: the long history's cells before both weeks, ~2,000 rows, each a few VM steps.
    assert long <= short + 600, (short, long)


def test_the_count_on_postgresql_is_the_events_known_and_happened(postgres_cluster: Any) -> None:
    """The same statement (the chains' VALUES CROSS JOINed) on PostgreSQL: a fixed history
    with backdated events, one recorded backwards, across weeks; every horizon asked."""
    drawn = [
        (REGISTRY, "a", 0, 0),
        (REGISTRY, "a", 9, 30),
        (REGISTRY, "b", 20, 0),
        (REGISTRY, "b", 2, -300),  # recorded before its predecessor: known only with it
        (REGISTRY, "c", 40, 200),
        (REGISTRY, "d", 15, 24 * 30),  # backdated a month
    ]
    streams = history(drawn)
    envelopes = [e.envelope for s in streams.values() for e in s]
    recordings = sorted({e.recorded_at for e in envelopes})
    variables: list[dict[str, Any]] = []
    expected: list[int] = []
    for days in (-1, 1, 10, 16, 25, 45):
        day = (START + timedelta(days=days)).date()
        valid = end_of_dutch_day(day)
        for known in [None, *recordings, recordings[-1] + timedelta(days=9)]:
            seen = known_by(envelopes, known) if known is not None else envelopes
            expected.append(sum(1 for e in seen if e.occurred_at <= valid))
            variables.append(
                {"asOf": day.isoformat(), "knownAt": None if known is None else known.isoformat()}
            )
    url = postgres_cluster.create_database(f"t_{uuid.uuid4().hex[:12]}")
    engine = build(url, streams, 2)
    try:
        assert asyncio.run(_totals(engine, url, variables)) == expected
    finally:
        engine.dispose()
