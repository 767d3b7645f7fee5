"""contracts(filter: {status}) at a past horizon, paged along the key index (asof15).

The walk (`schema.status_walk`) is the same predicate on the versions read by another index:
checked here against the page as planned before, at random horizons, status subsets, page
sizes, directions and cursors, on the bench generator's history (amendments, ends, backdated
facts) through the read models' batch path; then through the gateway itself, and its plan.
"""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, select

from bench.direct import build_read_models, stored_events
from bench.history.generator import generate
from contracts_schema.registry.state import ContractStatus
from eventstore.bitemporal_sql import micros
from eventstore.sql import make_engine
from gateway import planner
from gateway.app import build_app
from gateway.auth import Principal, Role, issue_token
from gateway.projections import ContractsProjection
from gateway.readmodels import KNOWN_NOW, ReadModels, local_date
from gateway.schema import queries, status_walk
from gateway.schema.filters import ContractFilter, contract_query
from gateway.schema.status_walk import walk_in_key_order, walk_view
from tests.integration.gateway.harness import settings as gateway_settings

STREAMS = stored_events(generate(seed=29, events=800))
STATUSES = [s.value for s in ContractStatus]
COORDINATOR = Principal(Role.COORDINATOR, "coordinator")
_BUILT: dict[str, Any] = {}


def _built(directory: Any) -> tuple[str, ReadModels]:
    if "read" not in _BUILT:
        url = f"sqlite:///{directory / 'walk.db'}"
        engine = make_engine(url)
        build_read_models(engine, STREAMS, batch=500)
        with engine.begin() as conn:  # the statistics the gateway plans with (planner)
            conn.exec_driver_sql("ANALYZE")
        _BUILT["read"] = (url, ReadModels(engine))
    return _BUILT["read"]  # type: ignore[no-any-return]


def _instants() -> tuple[list[int], list[int]]:
    envelopes = [e.envelope for s in STREAMS.values() for e in s]
    valid = sorted({micros(e.occurred_at) for e in envelopes})
    known = sorted({micros(e.recorded_at) for e in envelopes})
    # Each instant, and just before and after it: a version's edges on either side.
    return (
        sorted({v + d for v in valid[::3] for d in (-1, 0, 1)}),
        sorted({k + d for k in known[::5] for d in (-1, 0)}),
    )


VALID, KNOWN = _instants()


async def _page(
    bound: ReadModels, statuses: list[str], walked: Any, desc: bool, size: int, after: str | None
) -> list[dict[str, Any]]:
    f = ContractFilter(status=[ContractStatus(s) for s in statuses])
    query, parameters = contract_query(bound, f, COORDINATOR, walked=walked)
    c = bound.contracts.contracts if walked is None else walked
    key = c.c.contract_id
    if after is not None:
        query = query.where(key < after if desc else key > after)
    query = query.order_by(key.desc() if desc else key.asc()).limit(size)
    return [dict(r) for r in await bound.rows(query, parameters)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    valid=st.sampled_from(VALID),
    known=st.one_of(st.just(KNOWN_NOW), st.sampled_from(KNOWN)),
    statuses=st.lists(st.sampled_from(STATUSES), min_size=1, unique=True),
    desc=st.booleans(),
    size=st.integers(1, 30),
    skip=st.integers(0, 40),
)
def test_the_walked_page_is_the_page_planned_before(
    tmp_path_factory: Any,
    valid: int,
    known: int,
    statuses: list[str],
    desc: bool,
    size: int,
    skip: int,
) -> None:
    """Same rows, same order, from the start and after a cursor (a contract `skip` rows in)."""
    _, read = _built(tmp_path_factory.getbasetemp())
    bound = read.at(valid, known)
    walked = walk_view(read.versions(ContractsProjection).contracts)

    async def both() -> None:
        every = await _page(bound, statuses, None, desc, 10_000, None)
        after = every[skip - 1]["contract_id"] if 0 < skip <= len(every) else None
        before = await _page(bound, statuses, None, desc, size, after)
        now = await _page(bound, statuses, walked, desc, size, after)
        assert now == before, (valid, known, statuses, desc, size, after)

    asyncio.run(both())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    valid=st.sampled_from(VALID),
    known=st.one_of(st.just(KNOWN_NOW), st.sampled_from(KNOWN)),
    statuses=st.lists(st.sampled_from(STATUSES), min_size=1, unique=True),
)
def test_the_walk_is_taken_when_the_statuses_hold_half_the_contracts(
    tmp_path_factory: Any, valid: int, known: int, statuses: list[str]
) -> None:
    """The decision against the rows counted: at least half of the contracts at the horizon."""
    _, read = _built(tmp_path_factory.getbasetemp())
    bound = read.at(valid, known)
    counted = bound.status_count()
    assert counted is not None
    c = bound.contracts.contracts

    async def decide() -> tuple[bool, int, int]:
        asked = await bound.rows(select(c.c.contract_id).where(c.c.status.in_(statuses)))
        every = await bound.rows(select(c.c.contract_id))
        return await walk_in_key_order(bound, counted, statuses), len(asked), len(every)

    walks, asked, every = asyncio.run(decide())
    assert walks == (every > 0 and 2 * asked >= every), (valid, known, statuses, asked, every)


PAGE = """query C($asOf: Date, $after: String, $dir: Direction) {
  contracts(asOf: $asOf, filter: {status: [ACTIVE]}, first: 7, after: $after,
            orderBy: {field: CONTRACT_ID, direction: $dir}) {
    totalCount edges { cursor node { contractId status endDate } } pageInfo { hasNextPage }
  }
}"""


async def _every_page(url: str, as_of: str, direction: str) -> tuple[list[Any], list[str]]:
    """Every page of the active contracts at `as_of` through the gateway, and the SELECTs sent."""
    engine = make_engine(url)
    sent: list[tuple[str, Any]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def grab(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    s = gateway_settings(database_url=url)
    app = build_app(ReadModels(engine), s)
    token = issue_token(s, Role.COORDINATOR, "coordinator-user")
    pages: list[Any] = []
    after = None
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
    ) as client:
        while True:
            answer = (
                await client.post(
                    "/graphql",
                    json={
                        "query": PAGE,
                        "variables": {"asOf": as_of, "after": after, "dir": direction},
                    },
                    headers={"authorization": f"Bearer {token}"},
                )
            ).json()
            assert "errors" not in answer, answer
            found = answer["data"]["contracts"]
            pages.append(found)
            if not found["pageInfo"]["hasNextPage"]:
                break
            after = found["edges"][-1]["cursor"]
    engine.dispose()
    database = url.removeprefix("sqlite:///")
    with sqlite3.connect(database) as conn:
        plans = [
            " / ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, parameters))
            for sql, parameters in sent
            if " LIMIT " in sql and sql.lstrip().startswith("SELECT contracts_")
        ]
    return pages, plans


@pytest.mark.parametrize("direction", ["ASC", "DESC"])
def test_the_gateway_walks_the_key_index_and_answers_as_before(
    tmp_path_factory: Any, monkeypatch: pytest.MonkeyPatch, direction: str
) -> None:
    """Every page of the active contracts at a past day, walked (the key index, no sort:
    before, the status index read every active version and sorted them), equals the pages
    planned as before (the walk turned off)."""
    url, _ = _built(tmp_path_factory.getbasetemp())
    monkeypatch.setattr(planner, "_analyzing", False)  # the statistics gathered above
    valid = VALID[len(VALID) // 2]
    as_of = _day(valid)
    walked, walked_plans = asyncio.run(_every_page(url, as_of, direction))
    assert len(walked) > 2, "the history has several pages of active contracts"
    key = f"ix_{ContractsProjection().key}_contracts_key"
    assert walked_plans, "the pages' statements were captured"
    for plan in walked_plans:
        assert key in plan, plan
        assert "TEMP B-TREE" not in plan, plan

    async def never(*_: Any) -> bool:
        return False

    monkeypatch.setattr(queries, "walk_in_key_order", never)
    planned, planned_plans = asyncio.run(_every_page(url, as_of, direction))
    # As planned before, the first page read the status index and sorted.
    assert "TEMP B-TREE" in planned_plans[0], planned_plans
    assert walked == planned
    assert status_walk.EVERY_STATUS == STATUSES


def _day(valid: int) -> str:
    day = local_date(valid)
    assert day is not None
    return day.isoformat()
