"""`participationByProgramme(programmeId)` and `participationByProgrammeAndProvince(programmeId)`
(asof18): one programme's rows, exactly as the unfiltered answer gives them, at the present,
at past days as known now (the stored totals, flat14) and at a past known instant (the pairs
from the rows); at a past day the totals are read for that programme's keys alone, so the
answer and its cost stay the size of one programme however many the history holds.

The bench generator's history (seed 31, enrolments, withdrawals, frozen lists, backdated
facts) through the read models' batch path; the gateway's app in process, as a coordinator.
"""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from bench.direct import build_read_models, stored_events
from bench.history.generator import generate
from eventstore.sql import make_engine
from gateway.app import build_app
from gateway.auth import Role, issue_token
from gateway.projections import EnrolmentProjection
from gateway.readmodels import ReadModels
from tests.integration.gateway.harness import settings

STREAMS = stored_events(generate(seed=31, events=3_000))
KEYS = f"{EnrolmentProjection().key}_programme_total_keys"

BY_PROGRAMME = """query Q($asOf: Date, $knownAt: DateTime, $p: String) {
  statistics(asOf: $asOf, knownAt: $knownAt) {
    participationByProgramme(programmeId: $p) { key participating municipalities rate }
    participationByProgrammeAndProvince(programmeId: $p) {
      programmeId province participating municipalities rate }
  }
}"""


@pytest.fixture(scope="module")
def read_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    path: Path = tmp_path_factory.mktemp("programme-filter") / "read-models.db"
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    build_read_models(engine, STREAMS, batch=500)
    with engine.begin() as conn:  # the statistics the gateway plans with (planner)
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    return url


def _days() -> list[str]:
    """Days across the history's valid time (a few before anything, most inside it)."""
    occurred = sorted(e.envelope.occurred_at.date() for s in STREAMS.values() for e in s)
    first, last = occurred[0], occurred[-1]
    step = max(1, (last - first).days // 6)
    return [(first + timedelta(days=step * i)).isoformat() for i in range(1, 6)] + [
        (first - timedelta(days=30)).isoformat(),
        date(2026, 1, 1).isoformat(),
    ]


async def _ask(url: str, variables: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, Any]]]:
    engine = make_engine(url)
    sent: list[tuple[str, Any]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def grab(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
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
                json={"query": BY_PROGRAMME, "variables": variables},
                headers={"authorization": f"Bearer {token}"},
            )
        ).json()
    engine.dispose()
    assert "errors" not in answer, answer
    return answer["data"]["statistics"], sent


HORIZONS = [{"asOf": None, "knownAt": None}] + [{"asOf": day, "knownAt": None} for day in _days()]


@pytest.mark.parametrize("horizon", HORIZONS, ids=[h["asOf"] or "present" for h in HORIZONS])
async def test_one_programmes_rows_are_the_unfiltered_answers_rows(
    read_model: str, horizon: dict[str, Any]
) -> None:
    every, _ = await _ask(read_model, {**horizon, "p": None})
    programmes = {r["key"] for r in every["participationByProgramme"]}
    programmes |= {r["programmeId"] for r in every["participationByProgrammeAndProvince"]}
    for programme in [*sorted(programmes)[:3], "P99999"]:
        one, _ = await _ask(read_model, {**horizon, "p": programme})
        assert one["participationByProgramme"] == [
            r for r in every["participationByProgramme"] if r["key"] == programme
        ], (horizon, programme)
        assert one["participationByProgrammeAndProvince"] == [
            r for r in every["participationByProgrammeAndProvince"] if r["programmeId"] == programme
        ], (horizon, programme)


async def test_the_history_has_several_programmes_taking_part_at_a_past_day(
    read_model: str,
) -> None:
    """The comparison above is not empty: at some past day several programmes take part."""
    widest = 0
    for day in _days():
        every, _ = await _ask(read_model, {"asOf": day, "knownAt": None, "p": None})
        widest = max(widest, len(every["participationByProgramme"]))
    assert widest >= 3


async def test_a_past_known_instant_is_filtered_from_the_rows(read_model: str) -> None:
    """At a past known instant the totals do not answer (the pairs are read from the rows):
    the filter applies there too."""
    day = _days()[3]
    horizon = {"asOf": day, "knownAt": f"{day}T23:59:59+00:00"}
    every, _ = await _ask(read_model, {**horizon, "p": None})
    programmes = sorted({r["key"] for r in every["participationByProgramme"]})
    assert programmes
    for programme in programmes:
        one, sent = await _ask(read_model, {**horizon, "p": programme})
        assert not any(KEYS in sql for sql, _ in sent)
        assert one["participationByProgramme"] == [
            r for r in every["participationByProgramme"] if r["key"] == programme
        ]


async def test_at_a_past_day_only_that_programmes_keys_are_read(read_model: str) -> None:
    """The totals' statement seeks the programme's keys by their primary key (before: a scan
    of every (programme, province) key the history ever had, the answer's size growing with
    it)."""
    day = _days()[3]
    every, _ = await _ask(read_model, {"asOf": day, "knownAt": None, "p": None})
    programme = every["participationByProgramme"][0]["key"]
    _, sent = await _ask(read_model, {"asOf": day, "knownAt": None, "p": programme})
    totals = [(sql, parameters) for sql, parameters in sent if KEYS in sql]
    assert len(totals) == 2  # per programme, and per programme and province
    database = read_model.removeprefix("sqlite:///")
    with sqlite3.connect(database) as conn:
        for sql, parameters in totals:
            assert programme in parameters
            plan = [r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, parameters)]
            assert plan[0] == f"SEARCH {KEYS} USING PRIMARY KEY (programme_id=?)", plan
