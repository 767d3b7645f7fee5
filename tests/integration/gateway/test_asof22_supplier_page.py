"""A supplier's page from its rows in the contracts' order (asof22, contracts v9).

`contracts(filter: {supplierId})` ordered by contract id joins the supplier's rows at the
horizon to their contracts and orders by the rows' own `contract_id`, so the page walks the
index `(supplier_id, contract_id, intervals)` and stops at its end; before (v8, and still
while an older version serves) the supplier's every version was read into an IN list and the
contracts sought in key order (100k events: 11k of the page's 12k VM steps).

(1) Through GraphQL on the bench generator's history, at random (asOf, knownAt) horizons,
orders and readers, every page of a supplier's contracts (cursors followed to the end) is the
answer the same gateway gives serving contracts v8 from the same file (main's SQL): nodes,
totalCount, hasNextPage and the cursors themselves; and a cursor v8 gave pages on in v9.
(2) The comparison is not of empty answers. (3) The page statement for the busiest supplier
at the middle of the valid time, as known now and at the present, steps through about as
many rows at 10x the history (its contracts ~10x as many). (4) On PostgreSQL, the same
comparison at fixed horizons (the join's only PostgreSQL test).
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from datetime import timedelta
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
from gateway.projections import ContractsProjection
from gateway.projections.contracts import SUPPLIER_ORDER_SINCE
from gateway.readmodels import ReadModels
from tests.integration.gateway.harness import settings as gateway_settings

CONTRACTS = """query C($asOf: Date, $knownAt: DateTime, $filter: ContractFilter,
  $orderBy: ContractOrder, $first: Int, $after: String) {
  contracts(asOf: $asOf, knownAt: $knownAt, filter: $filter, orderBy: $orderBy,
    first: $first, after: $after) {
    totalCount
    edges { cursor node { contractId kind status endDate } }
    pageInfo { hasNextPage endCursor }
  }
}"""
BEFORE = SUPPLIER_ORDER_SINCE - 1  # main's contracts version: the IN list


def _build(directory: Path, events: int, seed: int) -> str:
    """Every read model (contracts v9) and, beside them in the same file, contracts v8."""
    return _build_into(f"sqlite:///{directory / f'read-models-{events}.db'}", events, seed)


def _build_into(url: str, events: int, seed: int) -> str:
    engine = make_engine(url)
    streams = stored_events(generate(seed=seed, events=events))
    build_read_models(engine, streams, batch=500)
    older = ContractsProjection()
    older.version = BEFORE  # type: ignore[misc]
    runner = projection_runner(None, engine, older, batch=500)  # type: ignore[arg-type]
    runner.create_tables()
    for context in older.contexts:
        stream = streams.get(context.stream, [])
        for first in range(0, len(stream), 500):
            runner.apply_batch(context.stream, list(stream[first : first + 500]))
    with engine.begin() as conn:  # the statistics the gateway plans with (planner)
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    return url


def test_a_suppliers_pages_on_postgresql(postgres_cluster: Any) -> None:
    """On PostgreSQL, v9's join (ordered by the rows' contract id) == v8's IN list, every
    page, for the busiest suppliers at days across the valid time, known now and at a known
    instant, both directions, as a coordinator and as a participant."""
    url = _build_into(postgres_cluster.create_database(f"t_{uuid.uuid4().hex[:12]}"), 1_500, 41)
    engine = make_engine(url)
    key = ContractsProjection().key
    with engine.connect() as conn:
        suppliers = [
            r[0]
            for r in conn.exec_driver_sql(
                f"SELECT supplier_id FROM {key}_contract_suppliers GROUP BY 1"
                " ORDER BY count(DISTINCT contract_id) DESC, 1 LIMIT 2"
            )
        ]
        low, high, first, last = conn.exec_driver_sql(
            f"SELECT min(valid_from), max(valid_from), min(known_from), max(known_from)"
            f" FROM {key}_contract_suppliers"
        ).one()
    engine.dispose()
    days = [instant(low + (high - low) * i // 4).date().isoformat() for i in (1, 2, 4)]
    known = instant((first + last) // 2).isoformat()
    cases = [
        (
            {
                "asOf": day,
                "knownAt": known_at,
                "filter": {"supplierId": supplier},
                "first": 7,
                "orderBy": {"field": "CONTRACT_ID", "direction": direction},
            },
            role,
        )
        for supplier in suppliers[:1]
        for day in (None, *days)
        for known_at in (None, known)
        for direction in ("ASC", "DESC")
        for role in (Role.COORDINATOR, Role.PARTICIPANT)
    ]

    lists = [(variables, role, "GM0001") for variables, role in cases]
    new = asyncio.run(_all_pages(url, None, lists))
    old = asyncio.run(_all_pages(url, BEFORE, lists))
    assert new == old
    assert max(sum(len(p["edges"]) for p in pages) for pages in new) >= 8  # several pages


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> str:
    return _build(tmp_path_factory.mktemp("supplier-page"), 1_500, 41)


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> str:
    return _build(tmp_path_factory.mktemp("supplier-page"), 15_000, 41)


def _serving(read: ReadModels, version: int | None) -> ReadModels:
    """`read` serving contracts `version` (as the product serves an older version while a
    newer one rebuilds beside it); None: the code's own."""
    if version is not None:
        projection = ContractsProjection()
        projection.version = version  # type: ignore[misc]
        projection.define(MetaData())
        read._fallback[(ContractsProjection, None)] = projection
    return read


async def _ask(
    url: str, version: int | None, queries: list[tuple[dict[str, Any], Role, str | None]]
) -> tuple[list[dict[str, Any]], list[list[tuple[str, Any]]]]:
    """Each query's `contracts` answer (as `role` of `organisation`), and the statements
    each sent, from a gateway serving contracts `version`."""
    engine = make_engine(url)
    sent: list[tuple[str, Any]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def grab(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    configured = gateway_settings(database_url=url)
    app = build_app(_serving(ReadModels(engine), version), configured)
    answers, statements = [], []
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
    ) as client:
        for variables, role, organisation in queries:
            token = issue_token(configured, role, "user", organisation=organisation)
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


async def _every_page(
    url: str, version: int | None, variables: dict[str, Any], role: Role, org: str | None
) -> list[dict[str, Any]]:
    """Every page of the list, each cursor followed (at most 40 pages)."""
    [pages] = await _all_pages(url, version, [(variables, role, org)])
    return pages


async def _all_pages(
    url: str, version: int | None, lists: list[tuple[dict[str, Any], Role, str | None]]
) -> list[list[dict[str, Any]]]:
    """Every page of each list (cursors followed, at most 40 pages), from one gateway
    serving contracts `version`."""
    engine = make_engine(url)
    configured = gateway_settings(database_url=url)
    app = build_app(_serving(ReadModels(engine), version), configured)
    out = []
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
    ) as client:
        for variables, role, organisation in lists:
            token = issue_token(configured, role, "user", organisation=organisation)
            pages: list[dict[str, Any]] = []
            after = None
            for _ in range(40):
                answer = (
                    await client.post(
                        "/graphql",
                        json={"query": CONTRACTS, "variables": {**variables, "after": after}},
                        headers={"authorization": f"Bearer {token}"},
                    )
                ).json()
                assert "errors" not in answer, (variables, answer)
                pages.append(answer["data"]["contracts"])
                if not pages[-1]["pageInfo"]["hasNextPage"]:
                    break
                after = pages[-1]["pageInfo"]["endCursor"]
            out.append(pages)
    engine.dispose()
    return out


def _facts(url: str) -> tuple[list[str], list[str], list[str], list[str]]:
    """(suppliers by their contracts, most first; days across the valid time; instants
    across the known time; municipalities that are contracting authorities of call-offs)."""
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
        authorities = [
            r[0]
            for r in conn.execute(
                f"SELECT contracting_authority FROM {key}_contracts WHERE kind = 'call_off'"
                " GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 3"
            )
        ]
    start, end = instant(low), instant(high)
    step = (end - start) / 12
    days = [(start + step * i).date().isoformat() for i in range(-1, 14)]
    days.append((start - timedelta(days=400)).date().isoformat())
    known_start, known_end = instant(first), instant(last)
    kstep = (known_end - known_start) / 10
    knowns = [(known_start + kstep * i).isoformat() for i in range(0, 12)]
    return suppliers, days, knowns, authorities


_SEEN: dict[str, Any] = {}


def _seen(url: str) -> tuple[list[str], list[str], list[str], list[str]]:
    if url not in _SEEN:
        _SEEN[url] = _facts(url)
    return _SEEN[url]  # type: ignore[no-any-return]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_page_of_a_suppliers_contracts_is_main_answer(
    small: str, data: st.DataObject
) -> None:
    """At random horizons (either axis absent), orders and readers, every page of a
    supplier's contracts from v9 (the join in the supplier's index order) == from v8 (the
    IN list, main's SQL) on the same file: nodes, totalCount, hasNextPage, cursors."""
    suppliers, days, knowns, authorities = _seen(small)
    supplier = data.draw(st.sampled_from([*suppliers[:4], suppliers[-1], "KVK-99999999"]))
    as_of = data.draw(st.one_of(st.none(), st.sampled_from(days)))
    known_at = data.draw(st.one_of(st.none(), st.sampled_from(knowns)))
    field = data.draw(st.sampled_from(["CONTRACT_ID", "CONTRACT_ID", "END_DATE", None]))
    direction = data.draw(st.sampled_from(["ASC", "DESC"]))
    first = data.draw(st.sampled_from([3, 7, 20]))
    reader = data.draw(
        st.sampled_from(
            [
                (Role.COORDINATOR, None),
                (Role.ANONYMOUS, None),
                (Role.PARTICIPANT, authorities[0] if authorities else "GM0001"),
            ]
        )
    )
    variables: dict[str, Any] = {
        "asOf": as_of,
        "knownAt": known_at,
        "filter": {"supplierId": supplier},
        "first": first,
        "orderBy": None if field is None else {"field": field, "direction": direction},
    }
    new = asyncio.run(_every_page(small, None, variables, *reader))
    old = asyncio.run(_every_page(small, BEFORE, variables, *reader))
    assert new == old, variables


def test_a_cursor_from_v8_pages_on_in_v9(small: str) -> None:
    """A client holding v8's cursor when v9 takes over gets v8's next page: the cursor's
    key is the same column name and value (the rows' `contract_id`)."""
    suppliers, days, _, _ = _seen(small)
    variables = {"asOf": days[9], "knownAt": None, "filter": {"supplierId": suppliers[0]}}
    variables["first"] = 3
    old = asyncio.run(_every_page(small, BEFORE, variables, Role.COORDINATOR, None))
    assert len(old) >= 3, old
    cursor = old[0]["pageInfo"]["endCursor"]
    [after], _ = asyncio.run(
        _ask(small, None, [({**variables, "after": cursor}, Role.COORDINATOR, None)])
    )
    assert after == old[1]


def test_the_history_has_suppliers_with_many_contracts_in_the_past(small: str) -> None:
    """The comparison is not of empty answers: the busiest supplier has several pages of
    contracts at the middle of the valid time and some at a known instant."""
    suppliers, days, knowns, _ = _seen(small)
    answers, statements = asyncio.run(
        _ask(
            small,
            None,
            [
                ({"asOf": days[7], "filter": {"supplierId": suppliers[0]}}, Role.COORDINATOR, None),
                (
                    {"asOf": days[7], "knownAt": knowns[8], "filter": {"supplierId": suppliers[0]}},
                    Role.COORDINATOR,
                    None,
                ),
            ],
        )
    )
    assert answers[0]["totalCount"] >= 5
    assert answers[1]["totalCount"] >= 1
    # v9's page is the join in the supplier's order (not the IN list)
    page = [sql for sql, _ in statements[0] if " LIMIT " in sql]
    assert len(page) == 1, statements[0]
    assert " JOIN " in page[0], page[0]
    assert " IN (" not in page[0], page[0]


def _page_steps(url: str, sent: list[tuple[str, Any]]) -> int:
    """SQLite's virtual-machine steps (per 100) of the page statement."""
    pages = [(sql, p) for sql, p in sent if " LIMIT " in sql]
    assert len(pages) == 1, sent
    steps = 0

    def tick() -> int:
        nonlocal steps
        steps += 1
        return 0

    with sqlite3.connect(url.split("///", 1)[1]) as conn:
        conn.set_progress_handler(tick, 100)
        conn.execute(*pages[0]).fetchall()
    return steps


@pytest.mark.parametrize("past", [True, False], ids=["past", "present"])
def test_the_busiest_suppliers_page_reads_about_as_much_at_ten_times_the_history(
    small: str, large: str, past: bool
) -> None:
    """The busiest supplier's first page at the middle of the valid time as known now (and
    at the present) steps through about as many rows at 10x the history, whose supplier has
    several times the contracts. Before (the IN list) it read every version of them."""
    found = []
    for url in (small, large):
        suppliers, days, _, _ = _seen(url)
        variables = {
            "asOf": days[7] if past else None,
            "filter": {"supplierId": suppliers[0]},
            "first": 20,  # the bench's page (the default is the cap, 100)
        }
        answers, sent = asyncio.run(_ask(url, None, [(variables, Role.COORDINATOR, None)]))
        found.append((answers[0]["totalCount"], _page_steps(url, sent[0])))
    (few, small_steps), (many, large_steps) = found
    assert many >= 2 * few, found  # the larger history's supplier has many more contracts
    assert large_steps <= small_steps + 10, found  # +1,000 steps at most
