"""The tenders' list counted from stored corners by phase and paged in key order (asof23,
tenders v7).

`tenders(filter: {phase})` (or unfiltered) counts its tenders at the request's horizon, past
or present, from the versions' corners by phase (`projections.status_counts`, as the
contracts' status since asof12), and when the phases asked hold at least half the tenders at
the horizon its page (by tender id) walks the key index and stops at the page's end (as the
contracts' status page since asof15). Before (v6, and still while an older version serves)
the phase index's versions known then were counted and sorted: 1M events, 214k VM steps a
request.

(1) Through GraphQL on the bench generator's history, at random (asOf, knownAt) horizons,
phase filters, orders and page sizes: every page (cursors followed to the end) is the answer
the same gateway gives serving tenders v6 from the same file: nodes, totalCount,
hasNextPage, cursors. (2) Not empty answers, and both pages (walked, sorted) are taken.
(3) The bench's list at the middle of the valid time (and at the present) steps through
about as many rows at 10x the history. (4) On PostgreSQL, v7 == v6 at fixed horizons.
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import MetaData, event

from bench.direct import build_read_models, stored_events
from bench.history.generator import generate
from bootstrap.parts import projection_runner
from eventstore.bitemporal_sql import instant
from eventstore.sql import make_engine
from gateway.app import build_app
from gateway.auth import Role, issue_token
from gateway.projections import TendersProjection
from gateway.projections.tenders import PHASE_COUNTS_SINCE
from gateway.readmodels import ReadModels
from gateway.schema import queries
from tests.integration.gateway.harness import settings as gateway_settings

TENDERS = """query T($asOf: Date, $knownAt: DateTime, $filter: TenderFilter,
  $orderBy: TenderOrder, $first: Int, $after: String) {
  tenders(asOf: $asOf, knownAt: $knownAt, filter: $filter, orderBy: $orderBy,
    first: $first, after: $after) {
    totalCount
    edges { cursor node { tenderId title phase plannedOn publishedOn } }
    pageInfo { hasNextPage endCursor }
  }
}"""
BEFORE = PHASE_COUNTS_SINCE - 1  # main's tenders version: the rows counted and sorted
PHASES = ["PLANNED", "PUBLISHED", "PAUSED", "PROVISIONALLY_AWARDED", "AWARDED", "CANCELLED"]
BENCH = ["PUBLISHED", "PROVISIONALLY_AWARDED", "AWARDED"]  # bench.suites.asof's LIST


def _build(directory: Path, events: int, seed: int) -> str:
    return _build_into(f"sqlite:///{directory / f'read-models-{events}.db'}", events, seed)


def _build_into(url: str, events: int, seed: int) -> str:
    """Every read model (tenders v7) and, beside them in the same file, tenders v6."""
    engine = make_engine(url)
    streams = stored_events(generate(seed=seed, events=events))
    build_read_models(engine, streams, batch=500)
    older = TendersProjection()
    older.version = BEFORE  # type: ignore[misc]
    runner = projection_runner(None, engine, older, batch=500)  # type: ignore[arg-type]
    runner.create_tables()
    for context in older.contexts:
        stream = streams.get(context.stream, [])
        for first in range(0, len(stream), 500):
            runner.apply_batch(context.stream, list(stream[first : first + 500]))
    if engine.dialect.name == "sqlite":
        with engine.begin() as conn:  # the statistics the gateway plans with (planner)
            conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    return url


def _serving(read: ReadModels, version: int | None) -> ReadModels:
    """`read` serving tenders `version` (as the product serves an older version while a
    newer one rebuilds beside it); None: the code's own."""
    if version is not None:
        projection = TendersProjection()
        projection.version = version  # type: ignore[misc]
        projection.define(MetaData())
        read._fallback[(TendersProjection, None)] = projection
    return read


async def _ask(
    url: str, version: int | None, lists: list[dict[str, Any]], every_page: bool = True
) -> tuple[list[list[dict[str, Any]]], list[list[tuple[str, Any]]]]:
    """Every page of each list (cursors followed, at most 60 pages; `every_page` False: the
    first), from one gateway serving tenders `version`; and the statements each first page
    sent."""
    engine = make_engine(url)
    sent: list[tuple[str, Any]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def grab(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    configured = gateway_settings(database_url=url)
    app = build_app(_serving(ReadModels(engine), version), configured)
    token = issue_token(configured, Role.COORDINATOR, "user")
    out, statements = [], []
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
    ) as client:
        for variables in lists:
            pages: list[dict[str, Any]] = []
            after = None
            for _ in range(60):
                sent.clear()
                answer = (
                    await client.post(
                        "/graphql",
                        json={"query": TENDERS, "variables": {**variables, "after": after}},
                        headers={"authorization": f"Bearer {token}"},
                    )
                ).json()
                assert "errors" not in answer, (variables, answer)
                if not pages:
                    statements.append(list(sent))
                pages.append(answer["data"]["tenders"])
                if not every_page or not pages[-1]["pageInfo"]["hasNextPage"]:
                    break
                after = pages[-1]["pageInfo"]["endCursor"]
            out.append(pages)
    engine.dispose()
    return out, statements


def _facts(url: str) -> tuple[list[str], list[str]]:
    """(days across the tenders' valid time and beyond it; instants across the known time)."""
    key = TendersProjection().key
    engine = make_engine(url)
    with engine.connect() as conn:
        low, high, first, last = conn.exec_driver_sql(
            f"SELECT min(valid_from), max(valid_from), min(known_from), max(known_from)"
            f" FROM {key}_tenders"
        ).one()
    engine.dispose()
    start, end = instant(low), instant(high)
    step = (end - start) / 12
    days = [(start + step * i).date().isoformat() for i in range(-1, 14)]
    known_start, known_end = instant(first), instant(last)
    kstep = (known_end - known_start) / 10
    knowns = [(known_start + kstep * i).isoformat() for i in range(0, 12)]
    return days, knowns


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> str:
    return _build(tmp_path_factory.mktemp("tenders-list"), 3_000, 41)


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> str:
    return _build(tmp_path_factory.mktemp("tenders-list"), 30_000, 41)


_SEEN: dict[str, Any] = {}


def _seen(url: str) -> tuple[list[str], list[str]]:
    if url not in _SEEN:
        _SEEN[url] = _facts(url)
    return _SEEN[url]  # type: ignore[no-any-return]


WALKED: list[bool] = []  # what `walk_in_key_order` answered in the comparisons (test 2)


@pytest.fixture
def spied(monkeypatch: pytest.MonkeyPatch) -> None:
    real = queries.walk_in_key_order

    async def spy(*args: Any) -> bool:
        walked = await real(*args)
        WALKED.append(walked)
        return walked

    monkeypatch.setattr(queries, "walk_in_key_order", spy)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_page_of_the_tenders_list_is_main_answer(small: str, data: st.DataObject) -> None:
    """At random horizons (either axis absent), phase filters, orders and page sizes, every
    page of the tenders' list from v7 (stored counts; the key-order walk where the phases
    are common) == from v6 (the rows counted and sorted: main's SQL) on the same file."""
    days, knowns = _seen(small)
    as_of = data.draw(st.one_of(st.none(), st.sampled_from(days)))
    known_at = data.draw(st.one_of(st.none(), st.sampled_from(knowns)))
    phases = data.draw(
        st.one_of(
            st.none(),
            st.just(BENCH),
            st.lists(st.sampled_from(PHASES), min_size=1, max_size=4, unique=True),
        )
    )
    field = data.draw(st.sampled_from(["TENDER_ID", "TENDER_ID", "TITLE", "PLANNED_ON", None]))
    direction = data.draw(st.sampled_from(["ASC", "DESC"]))
    variables: dict[str, Any] = {
        "asOf": as_of,
        "knownAt": known_at,
        "filter": None if phases is None else {"phase": phases},
        "first": data.draw(st.sampled_from([1, 3, 7, 20])),
        "orderBy": None if field is None else {"field": field, "direction": direction},
    }
    new, _ = asyncio.run(_ask(small, None, [variables]))
    old, _ = asyncio.run(_ask(small, BEFORE, [variables]))
    assert new == old, variables


def test_the_comparison_is_of_lists_walked_and_sorted(small: str, spied: None) -> None:
    """Not empty answers: the bench's phases at the middle of the valid time fill more than
    a page; the key-order walk is taken for them and for the unfiltered list, and not for a
    rare phase (cancelled); a past known instant is counted from the corners too."""
    days, knowns = _seen(small)
    WALKED.clear()
    lists = [
        {"asOf": days[7], "filter": {"phase": BENCH}, "first": 3},
        {"asOf": days[7], "filter": None, "first": 3},
        {"asOf": days[7], "filter": {"phase": ["CANCELLED"]}, "first": 3},
        {"asOf": days[7], "knownAt": knowns[7], "filter": {"phase": BENCH}, "first": 3},
    ]
    answers, statements = asyncio.run(_ask(small, None, lists, every_page=False))
    assert answers[0][0]["totalCount"] > 3
    assert answers[0][0]["pageInfo"]["hasNextPage"]
    assert answers[3][0]["totalCount"] >= 1
    assert WALKED == [True, True, False, True], WALKED
    phase = f"{TendersProjection().key}_phase"
    for sent in statements:  # counted from the corners: never the rows' count(*)
        assert any(phase in sql for sql, _ in sent), sent
        assert not any(sql.startswith("SELECT count(*)") for sql, _ in sent), sent


def _steps(url: str, sent: list[tuple[str, Any]]) -> int:
    """SQLite's virtual-machine steps (per 100) of every statement one request sent."""
    steps = 0

    def tick() -> int:
        nonlocal steps
        steps += 1
        return 0

    with sqlite3.connect(url.split("///", 1)[1]) as conn:
        conn.set_progress_handler(tick, 100)
        for sql, parameters in sent:
            if sql.lstrip().upper().startswith("SELECT"):
                conn.execute(sql, parameters).fetchall()
    return steps


@pytest.mark.parametrize("past", [True, False], ids=["past", "present"])
def test_the_tenders_list_reads_about_as_much_at_ten_times_the_history(
    small: str, large: str, past: bool
) -> None:
    """The bench's list (its three phases) at the middle of the valid time as known now (and
    at the present): every statement of the request together steps through about as many
    rows at 10x the history, whose answer counts many times the tenders. Before (v6, the
    same files served so: main's SQL) the count and the page read every version of the
    phases known then: 2.1k -> 7.7k steps past, 2.3k -> 10.1k present (3,000 -> 30,000
    events); v7 2.6k -> 3.3k and 2.6k -> 2.9k. A page of 3: the smaller history's list is
    longer than a page too (a walk that found fewer than a page would read every version)."""
    found = []
    for url in (small, large):
        days, _ = _seen(url)
        variables = {"asOf": days[7] if past else None, "filter": {"phase": BENCH}, "first": 3}
        answers, sent = asyncio.run(_ask(url, None, [variables], every_page=False))
        found.append((answers[0][0]["totalCount"], _steps(url, sent[0])))
    (few, small_steps), (many, large_steps) = found
    assert few > 3, found
    assert many >= 4 * few, found  # the larger history has many more such tenders
    assert large_steps <= small_steps + 15, found  # +1,500 steps at most


def test_the_tenders_list_on_postgresql(postgres_cluster: Any) -> None:
    """On PostgreSQL (no walk: the corners' count alone), v7 == v6, every page, at days
    across the valid time and the present, known now and at a known instant, filtered by
    the bench's phases, by a rare one and not at all, both directions."""
    url = _build_into(postgres_cluster.create_database(f"t_{uuid.uuid4().hex[:12]}"), 1_500, 41)
    days, knowns = _facts(url)
    lists = [
        {
            "asOf": day,
            "knownAt": known_at,
            "filter": phases,
            "first": 4,
            "orderBy": {"field": "TENDER_ID", "direction": direction},
        }
        for day in (None, days[3], days[7], days[13])
        for known_at in (None, knowns[6])
        for phases in ({"phase": BENCH}, {"phase": ["CANCELLED", "PAUSED"]}, None)
        for direction in ("ASC", "DESC")
    ]
    new, _ = asyncio.run(_ask(url, None, lists))
    old, _ = asyncio.run(_ask(url, BEFORE, lists))
    assert new == old
    assert max(p[0]["totalCount"] for p in new) >= 5
