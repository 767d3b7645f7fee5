"""The plans SQLite chooses for the list roots, at a past horizon and at the present.

The statements are the ones the gateway sends for a GraphQL request (captured from its
engine), planned with the statistics the gateway's own ANALYZE (`gateway.planner`, its
`analysis_limit`) wrote for the benchmark's 1M-event read model (`make bench-asof-1m`):
plans, unlike timings, are deterministic, and they are what decides whether a list's cost
grows with the history. Tables are empty; the statistics are all the planner reads.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from bootstrap.parts import projection_runner
from eventstore.sql import make_engine
from gateway import planner
from gateway.app import build_app
from gateway.auth import Role, issue_token
from gateway.projections import ALL, ContractsProjection, TendersProjection
from gateway.readmodels import ReadModels
from tests.integration.gateway.harness import settings

TENDERS = f"{TendersProjection().key}_tenders"
CONTRACTS = f"{ContractsProjection().key}_contracts"

# sqlite_stat1 of the 1M-event read model (seed 2026) after the gateway's ANALYZE: 5,946
# tenders in 45,980 versions; the estimates are the sampled ones the gateway plans with.
STATS = {
    TENDERS: {
        "ix_{t}_now": "41280 1 1 1 1",
        "ix_{t}_phase": "52560 401 2 2 2 1 1",
        "ix_{t}_key": "35148 8 2 1",
        "ix_{t}_contracting_authority": "34608 401",
        "ix_{t}_programme_id": "47680 41",
    },
    # 424,484 contracts in ~470k versions; `status` has three values, sampled as 401 rows each.
    CONTRACTS: {
        "ix_{t}_end_date": "389550 3 2 2 2 1 1",
        "ix_{t}_now": "470592 1 1 1 1",
        "ix_{t}_framework_contract_id": "1987776 161",
        "ix_{t}_contracting_authority": "542640 401",
        "ix_{t}_key": "274770 1 1 1",
        "ix_{t}_status": "462690 401",
        "ix_{t}_tender_id": "543214 201",
        "ix_{t}_kind": "430440 401",
    },
}

LIST = """query Q($asOf: Date) {
  tenders(asOf: $asOf, filter: {phase: [PUBLISHED, PROVISIONALLY_AWARDED, AWARDED]}, first: 20) {
    totalCount edges { node { tenderId title phase } }
  }
}"""
EVERY = "query Q($asOf: Date) { tenders(asOf: $asOf, first: 20) { totalCount nodes { tenderId } } }"


@pytest.fixture
def read_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An empty read model with every table and index, and the 1M-event statistics."""
    url = f"sqlite:///{tmp_path / 'read-models.db'}"
    engine = make_engine(url)
    for kind in ALL:
        projection_runner(None, engine, kind(), batch=10).create_tables()  # type: ignore[arg-type]
    engine.dispose()
    with sqlite3.connect(tmp_path / "read-models.db", isolation_level=None) as conn:
        conn.execute("ANALYZE")  # creates sqlite_stat1
        conn.execute("DELETE FROM sqlite_stat1")
        for table, indexes in STATS.items():
            for index, stat in indexes.items():
                conn.execute(
                    "INSERT INTO sqlite_stat1 VALUES (?, ?, ?)",
                    (table, index.format(t=table), stat),
                )
    # The statistics above are the ones planned with: the gateway does not gather its own.
    monkeypatch.setattr(planner, "_analyzing", False)
    return url


async def _planned(url: str, query: str, as_of: str | None) -> list[tuple[str, list[str]]]:
    """Each SELECT the gateway sends for `query`, with SQLite's plan of it."""
    engine = make_engine(url)
    sent: list[tuple[str, Any]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def grab(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            sent.append((statement, parameters))

    gateway_settings = settings(database_url=url)
    app = build_app(ReadModels(engine), gateway_settings)
    token = issue_token(gateway_settings, Role.COORDINATOR, "coordinator-user")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
    ) as client:
        answer = (
            await client.post(
                "/graphql",
                json={"query": query, "variables": {"asOf": as_of}},
                headers={"authorization": f"Bearer {token}"},
            )
        ).json()
    engine.dispose()
    assert "errors" not in answer, answer
    database = url.removeprefix("sqlite:///")
    with sqlite3.connect(database) as conn:
        return [
            (sql, [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, parameters)])
            for sql, parameters in sent
        ]


def _count_and_page(planned: list[tuple[str, list[str]]]) -> tuple[list[str], list[str]]:
    counts = [plan for sql, plan in planned if sql.startswith("SELECT count(*)")]
    pages = [
        plan for sql, plan in planned if " LIMIT " in sql and not sql.startswith("SELECT count")
    ]
    assert len(counts) == 1, planned
    assert len(pages) == 1, planned
    return counts[0], pages[0]


@pytest.mark.parametrize("as_of", ["2019-06-01", None], ids=["past", "present"])
async def test_tenders_by_phase_count_and_page_from_the_phase_index_with_the_intervals(
    read_model: str, as_of: str | None
) -> None:
    """The count tests each version's intervals in the phase index and reads no row; the page
    is ordered from the same index (which ends with the key: the sorter keeps the first keys
    and reads only their rows). Indexed on the phase alone, both read every version of the
    three phases from the table (1M events: ~35 ms each)."""
    count, page = _count_and_page(await _planned(read_model, LIST, as_of))
    phase = f"ix_{TENDERS}_phase"
    assert count == [f"SEARCH {TENDERS} USING COVERING INDEX {phase} (phase=? AND known_to>?)"]
    assert page == [
        f"SEARCH {TENDERS} USING INDEX {phase} (phase=? AND known_to>?)",
        "USE TEMP B-TREE FOR ORDER BY",
    ]
    with sqlite3.connect(read_model.removeprefix("sqlite:///")) as conn:
        columns = [row[2] for row in conn.execute(f"PRAGMA index_info({phase})")]
    assert columns == [
        "phase", "known_to", "valid_to", "valid_from", "known_from", "tender_id",
    ]  # fmt: skip


@pytest.mark.parametrize("as_of", ["2019-06-01", None], ids=["past", "present"])
async def test_every_tender_counted_from_the_horizon_index_alone(
    read_model: str, as_of: str | None
) -> None:
    """Unfiltered, the count reads the horizon index alone and the page walks the key index."""
    count, page = _count_and_page(await _planned(read_model, EVERY, as_of))
    assert count == [f"SEARCH {TENDERS} USING COVERING INDEX ix_{TENDERS}_now (known_to>?)"]
    assert page == [f"SCAN {TENDERS} USING INDEX ix_{TENDERS}_key"]


EXPIRING = """query Q($asOf: Date) {
  expiringContracts(asOf: $asOf, from: "2021-01-01", to: "2021-12-31", first: 20) {
    totalCount edges { node { contractId endDate } }
  }
}"""


@pytest.mark.parametrize("as_of", ["2019-06-01", None], ids=["past", "present"])
async def test_expiring_contracts_searched_by_their_end_date_range(
    read_model: str, as_of: str | None
) -> None:
    """The end-date range is the index, not `status = 'active'` (which the sampled statistics
    thought a few hundred rows: at 1M events it read every active version, ~125 ms); the
    count tests the intervals inside the end-date index, which holds them."""
    count, page = _count_and_page(await _planned(read_model, EXPIRING, as_of))
    end_date = f"ix_{CONTRACTS}_end_date"
    assert count == [f"SEARCH {CONTRACTS} USING INDEX {end_date} (end_date>? AND end_date<?)"]
    assert page == [
        f"SEARCH {CONTRACTS} USING INDEX {end_date} (end_date>? AND end_date<?)",
        "USE TEMP B-TREE FOR RIGHT PART OF ORDER BY",
    ]
