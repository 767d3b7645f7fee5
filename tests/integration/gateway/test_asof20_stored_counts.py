"""Stored counts (asof20): a supplier's contracts from stored corners
(`projections.supplier_counts`), the municipalities taking part from stored spans
(`projections.participation_counts`).

(1) The corners summed per supplier equal the versions counted as known now, at valid
instants on and beside the weeks' edges, on histories with backdated facts (re-derived
versions, closed in the known axis) and random batch cuts (the versioned tables' bulk path). (2) Through GraphQL, on the
bench generator's history: `contracts(asOf, knownAt, filter: {supplierId})` (the stored
count) == the same filter with every contract kind added (the rows counted, as before), its
totalCount and its page, at random (asOf, knownAt) horizons and at the present (the stored
count is asked as known now; at a past known instant the rows are counted, unchanged). (3) The count
statement the gateway sends for the busiest supplier reads about as many rows at 10x the
history (the supplier with ~2.5x the contracts): before, it read every version of them.
(4)-(6) The same for `statistics.participation` at past days as known now: == the answer at
a known instant after every recording (the municipalities tested, as before); flat in VM
steps at 10x the history.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, Integer, MetaData, String, create_engine, event, func, select

from bench.direct import build_read_models, stored_events
from bench.history.generator import generate
from contracts_schema.registry.state import ContractKind
from eventstore.bitemporal_sql import at, instant, versioned_table
from eventstore.sql import make_engine
from eventstore.timeline import Changes, Image, Recorded, Timeline
from eventstore.versioned import _Writes
from gateway.app import build_app
from gateway.auth import Role, issue_token
from gateway.projections import ContractsProjection, EventLogProjection
from gateway.projections.event_counts import BUCKET
from gateway.projections.supplier_counts import SupplierCounts, parameters
from gateway.readmodels import KNOWN_NOW, ReadModels
from tests.integration.gateway.harness import settings as gateway_settings
from tests.unit.eventstore.test_timeline import Bump, State, evolve

UNIT = BUCKET // 3  # an event's valid and known steps: a few per week, edges crossed
SUPPLIERS = ("s0", "s1", "s2")


def image(state: State) -> Image:
    """Each counter a row of the supplier its value names (it moves between suppliers)."""
    return {
        ("counters", (name,)): {"name": name, "value": value, "supplier_id": f"s{value % 3}"}
        for name, value in state.items()
    }


batches = st.lists(
    st.lists(
        st.tuples(st.sampled_from("abcd"), st.integers(1, 2), st.integers(-3, 24)),
        min_size=1,
        max_size=8,
    ),
    min_size=1,
    max_size=6,
)


def instants(values: set[int]) -> list[int]:
    """The instants, a microsecond either side, and the edges of their weeks."""
    out = set(values) | {v - 1 for v in values} | {v + 1 for v in values}
    out |= {(v // BUCKET) * BUCKET for v in values} | {(v // BUCKET) * BUCKET - 1 for v in values}
    return sorted(out)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches, st.integers(1, 3), st.sampled_from(SUPPLIERS), st.integers(0, 20))
def test_the_corners_count_a_suppliers_versions_at_every_valid_instant(
    history: list[list[tuple[str, int, int]]], per_instant: int, supplier: str, cut: int
) -> None:
    """Backdated events (valid before what is known) re-derive versions; several events
    share one transaction time; batches cut anywhere (an insert closed in its own batch).
    As known now, a closed version's corners cancel: only the open ones count."""
    metadata = MetaData()
    table = versioned_table(
        "counters",
        metadata,
        Column("name", String(8), nullable=False),
        Column("value", Integer, nullable=False),
        Column("supplier_id", String(40), nullable=False),
        key=["name"],
    )
    counts = SupplierCounts("counters_supplier", metadata)
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    timeline: Timeline[State, Bump] = Timeline({}, evolve, image)
    index, valid_seen = 0, {0}
    with engine.begin() as conn:
        for batch in history:
            writes = _Writes({"counters": table}, {"counters": "supplier_id"})
            for counter, by, valid in batch:
                index += 1
                known = ((index + per_instant - 1) // per_instant) * UNIT
                changes = Changes()
                timeline.record(Recorded(Bump(counter, by), valid * UNIT, known, index), changes)
                writes.stage(changes)
                valid_seen.add(valid * UNIT)
            writes.flush(conn)
            for statement in counts.statements(conn.dialect, writes.corners.get("counters", {})):  # type: ignore[arg-type]
                conn.exec_driver_sql(*statement)
        stored = counts.count()
        for v in instants(valid_seen)[cut % 3 :: 3]:
            rows = conn.execute(
                select(func.count())
                .select_from(table)
                .where(at(table, v, KNOWN_NOW), table.c.supplier_id == supplier)
            ).scalar_one()
            got = conn.execute(stored, {**parameters(v), "filter_supplier": supplier}).scalar_one()
            assert got == rows, (v, supplier)


CONTRACTS = """query C($asOf: Date, $knownAt: DateTime, $filter: ContractFilter) {
  contracts(asOf: $asOf, knownAt: $knownAt, filter: $filter, first: 7) {
    totalCount edges { node { contractId status } } pageInfo { hasNextPage endCursor }
  }
}"""
EVERY_KIND = [k.name for k in ContractKind]


def _build(directory: Path, events: int, seed: int) -> str:
    url = f"sqlite:///{directory / f'read-models-{events}.db'}"
    engine = make_engine(url)
    build_read_models(engine, stored_events(generate(seed=seed, events=events)), batch=500)
    with engine.begin() as conn:  # the statistics the gateway plans with (planner)
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    return url


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> str:
    return _build(tmp_path_factory.mktemp("supplier-counts"), 1_500, 41)


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> str:
    return _build(tmp_path_factory.mktemp("supplier-counts"), 15_000, 41)


async def _ask(
    url: str, queries: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[list[tuple[str, Any]]]]:
    """Each query's `contracts` answer, and the statements each sent."""
    engine = make_engine(url)
    sent: list[tuple[str, Any]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def grab(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    configured = gateway_settings(database_url=url)
    app = build_app(ReadModels(engine), configured)
    token = issue_token(configured, Role.COORDINATOR, "coordinator-user")
    answers, statements = [], []
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
    ) as client:
        for variables in queries:
            sent.clear()
            answer = (
                await client.post(
                    "/graphql",
                    json={"query": CONTRACTS, "variables": variables},
                    headers={"authorization": f"Bearer {token}"},
                )
            ).json()
            assert "errors" not in answer, (variables, answer)
            answers.append(answer["data"]["contracts"])
            statements.append(list(sent))
    engine.dispose()
    return answers, statements


def _placed(answer: dict[str, Any]) -> dict[str, Any]:
    """The answer with its end cursor read as (list, key): the place it names. A cursor also
    carries a fingerprint of the arguments it was made for (cursor20), which differ here by
    design (the kinds added to the filter), so the two cursors are equal only in place."""
    cursor = answer["pageInfo"]["endCursor"]
    if cursor is None:
        return answer
    listed, _fingerprint, key = json.loads(
        base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    )
    return {**answer, "pageInfo": {**answer["pageInfo"], "endCursor": (listed, key)}}


def _facts(url: str) -> tuple[list[str], list[str], list[str]]:
    """(suppliers by their contracts, most first; days across the valid time; instants
    across the known time) of a built read model."""
    key = ContractsProjection().key
    with sqlite3.connect(url.split("///", 1)[1]) as conn:
        suppliers = [
            r[0]
            for r in conn.execute(
                f"SELECT supplier_id FROM {key}_contract_suppliers GROUP BY 1"
                " ORDER BY count(DISTINCT contract_id) DESC, 1"
            )
        ]
        low, high = conn.execute(
            f"SELECT min(valid_from), max(valid_from) FROM {key}_contract_suppliers"
        ).fetchone()
        first, last = conn.execute(
            f"SELECT min(known_from), max(known_from) FROM {key}_contract_suppliers"
        ).fetchone()
    start, end = instant(low), instant(high)
    step = (end - start) / 12
    days = [(start + step * i).date().isoformat() for i in range(-1, 14)]
    days.append((start - timedelta(days=400)).date().isoformat())
    known_start, known_end = instant(first), instant(last)
    kstep = (known_end - known_start) / 10
    knowns = [(known_start + kstep * i).isoformat() for i in range(0, 12)]
    return suppliers, days, knowns


_SEEN: dict[str, Any] = {}


def _seen(url: str) -> tuple[list[str], list[str], list[str]]:
    if url not in _SEEN:
        _SEEN[url] = _facts(url)
    return _SEEN[url]  # type: ignore[no-any-return]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_suppliers_stored_count_is_the_counted_answer_through_graphql(
    small: str, data: st.DataObject
) -> None:
    """At random (asOf, knownAt) horizons (either absent: the present, or as known now), a
    supplier's contracts filtered by `supplierId` alone (the stored count) are the same
    answer as with every contract kind added to the filter (the rows counted, the path
    every other filter takes): totalCount, the page and its cursor."""
    suppliers, days, knowns = _seen(small)
    supplier = data.draw(st.sampled_from([*suppliers[:4], suppliers[-1], "KVK-99999999"]))
    as_of = data.draw(st.one_of(st.none(), st.sampled_from(days)))
    known_at = data.draw(st.one_of(st.none(), st.sampled_from(knowns)))
    horizon = {"asOf": as_of, "knownAt": known_at}
    stored = {**horizon, "filter": {"supplierId": supplier}}
    counted = {**horizon, "filter": {"supplierId": supplier, "kind": EVERY_KIND}}
    (one, other), (sent, _) = asyncio.run(_ask(small, [stored, counted]))
    assert _placed(one) == _placed(other), (horizon, supplier)
    # The first answer's count was the stored one (the tree's statement was sent) as known
    # now; at a past known instant the rows are counted.
    assert any("_supplier_tree" in sql for sql, _ in sent) == (known_at is None), sent


def test_the_history_has_suppliers_with_contracts_in_the_past(small: str) -> None:
    """The comparison above is not of empty answers: the busiest supplier has several
    contracts at the middle of the valid time, as known now and at a known instant."""
    suppliers, days, knowns = _seen(small)
    answers, _ = asyncio.run(
        _ask(
            small,
            [
                {"asOf": days[7], "knownAt": None, "filter": {"supplierId": suppliers[0]}},
                {"asOf": days[7], "knownAt": knowns[8], "filter": {"supplierId": suppliers[0]}},
            ],
        )
    )
    assert answers[0]["totalCount"] >= 5
    assert answers[1]["totalCount"] >= 1


def _count_steps(url: str, sent: list[tuple[str, Any]]) -> int:
    """SQLite's virtual-machine steps (per 100) of the page's count statement."""
    counts = [(sql, p) for sql, p in sent if "count(" in sql and "LIMIT" not in sql]
    assert len(counts) == 1, sent
    steps = 0

    def tick() -> int:
        nonlocal steps
        steps += 1
        return 0

    with sqlite3.connect(url.split("///", 1)[1]) as conn:
        conn.set_progress_handler(tick, 100)
        conn.execute(*counts[0]).fetchall()
    return steps


def test_the_busiest_suppliers_count_reads_about_as_much_at_ten_times_the_history(
    small: str, large: str
) -> None:
    """At the middle of the valid time as known now, the count of the busiest supplier's
    contracts (~10x as many in the larger history) steps through about as many rows. Before
    (the supplier's versions counted through its horizon index) it grew with them."""
    found = []
    for url in (small, large):
        suppliers, days, _ = _seen(url)
        variables = {"asOf": days[7], "knownAt": None, "filter": {"supplierId": suppliers[0]}}
        answers, sent = asyncio.run(_ask(url, [variables]))
        found.append((answers[0]["totalCount"], _count_steps(url, sent[0])))
    (few, small_steps), (many, large_steps) = found
    assert many >= 2 * few, found  # the larger history's supplier has many more contracts
    assert large_steps <= small_steps + 10, found  # +1,000 steps at most


PARTICIPATION = """query P($asOf: Date, $knownAt: DateTime) {
  statistics(asOf: $asOf, knownAt: $knownAt) {
    participation { participating municipalities programmes rate }
  }
}"""


async def _participation(
    url: str, horizons: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[list[tuple[str, Any]]]]:
    """`statistics.participation` at each horizon, and the statements each request sent."""
    engine = make_engine(url)
    sent: list[tuple[str, Any]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def grab(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    configured = gateway_settings(database_url=url)
    app = build_app(ReadModels(engine), configured)
    token = issue_token(configured, Role.COORDINATOR, "coordinator-user")
    answers, statements = [], []
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
    ) as client:
        for variables in horizons:
            sent.clear()
            answer = (
                await client.post(
                    "/graphql",
                    json={"query": PARTICIPATION, "variables": variables},
                    headers={"authorization": f"Bearer {token}"},
                )
            ).json()
            assert "errors" not in answer, (variables, answer)
            answers.append(answer["data"]["statistics"]["participation"])
            statements.append(list(sent))
    engine.dispose()
    return answers, statements


def _all_known(url: str) -> str:
    """An instant after every event of the history was recorded: a past known instant at
    which everything known now was known (its answer counts the rows)."""
    key = EventLogProjection().key
    with sqlite3.connect(url.split("///", 1)[1]) as conn:
        (last,) = conn.execute(f"SELECT max(recorded_at) FROM {key}_events").fetchone()
    moment = datetime.fromisoformat(last).replace(tzinfo=UTC) + timedelta(seconds=1)
    return moment.isoformat()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_stored_participation_is_the_counted_answer_through_graphql(
    small: str, data: st.DataObject
) -> None:
    """At random past days, `statistics.participation` as known now (the stored total) is
    the same answer as at a known instant after every recording (the municipalities tested
    one by one, as before); at random past known instants and at the present the stored
    total is not asked (the rows are counted there, unchanged)."""
    _, days, knowns = _seen(small)
    day = data.draw(st.sampled_from(days))
    known_at = data.draw(st.sampled_from(knowns))
    answers, sent = asyncio.run(
        _participation(
            small,
            [
                {"asOf": day, "knownAt": None},
                {"asOf": day, "knownAt": _all_known(small)},
                {"asOf": day, "knownAt": known_at},
                {"asOf": None, "knownAt": None},
            ],
        )
    )
    assert answers[0] == answers[1], day
    used = [any("_participation_totals" in sql for sql, _ in s) for s in sent]
    assert used == [True, False, False, False], (day, known_at)


def test_the_history_has_municipalities_taking_part_in_the_past(small: str) -> None:
    """The comparison above is not of zeros: at some past day some municipalities take part,
    and on another day a different number of them."""
    _, days, _ = _seen(small)
    answers, _ = asyncio.run(_participation(small, [{"asOf": d, "knownAt": None} for d in days]))
    found = {a["participating"] for a in answers}
    assert max(found) > 0, answers
    assert len(found) >= 3, answers


def _steps(url: str, sent: list[tuple[str, Any]]) -> int:
    """SQLite's virtual-machine steps (per 100) of every SELECT a request sent."""
    steps = 0

    def tick() -> int:
        nonlocal steps
        steps += 1
        return 0

    with sqlite3.connect(url.split("///", 1)[1]) as conn:
        conn.set_progress_handler(tick, 100)
        for sql, parameters in sent:
            if sql.lstrip().upper().startswith(("SELECT", "WITH")):
                conn.execute(sql, parameters).fetchall()
    return steps


def test_participation_at_a_past_day_reads_about_as_much_at_ten_times_the_history(
    small: str, large: str
) -> None:
    """At the middle of the valid time as known now, `statistics.participation`'s count of
    the municipalities taking part steps through about as many rows at 10x the history. Before (each municipality's first
    participation at the day found through the participants' organisation index) it grew
    with the participations per municipality."""
    found = []
    for url in (small, large):
        _, days, _ = _seen(url)
        answers, sent = asyncio.run(_participation(url, [{"asOf": days[7], "knownAt": None}]))
        # The first of its statements counts those taking part (then the municipalities,
        # which the generator registers over the history's first years, and programmes).
        selects = [(q, p) for q, p in sent[0] if q.lstrip().upper().startswith("SELECT")]
        found.append((answers[0]["participating"], _steps(url, selects[:1])))
    (few, small_steps), (many, large_steps) = found
    assert many >= 5 * few > 0, found
    assert large_steps <= small_steps + 10, found  # +1,000 steps at most
