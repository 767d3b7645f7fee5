"""While tenders v5 rebuilds beside a deployed v4, the gateway reads v4's tables as v4 created
them (review17b): import22 added `procedure_stated`, `published_on_stated` and
`planned_tender_start` in v5; a deployed v4 has none, and a SELECT naming them failed every
tender read (`no such column: tenders_v4_tenders.procedure_stated`) until v5 took over.

Real SQLite, the gateway's own app over GraphQL: the v4 tables as deployed, a runner
rebuilding v5 beside them (`live=False, live_version=4`, as the enrolment and contracts
versions are tested in test_programme_spans and test_status_counts)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
from sqlalchemy import MetaData, inspect, text

from bootstrap.parts import projection_runner
from eventstore.sql import make_engine
from eventstore.timeline import FOREVER
from gateway.app import build_app
from gateway.auth import Role, issue_token
from gateway.projections import ALL, TendersProjection
from gateway.readmodels import ReadModels
from tests.integration.gateway.harness import settings

# What import22 added to the tenders read model, and the version it added them in.
MARKS = ("procedure_stated", "published_on_stated", "planned_tender_start")
MARKS_SINCE = 5
FINDING = {"code": "LATE_AWARD", "message": "awarded before the standstill ended"}


def _deployed_v4(engine: Any) -> str:
    """The tenders v4 tables as v4's code created them (before import22's columns), with one
    imported tender that has a law finding: the name of its tenders table."""
    v4 = TendersProjection()
    v4.version = 4  # type: ignore[misc]
    metadata = MetaData()
    v4.define(metadata)
    metadata.create_all(engine)
    name = v4.tenders.name
    with engine.begin() as conn:
        present = {c["name"] for c in inspect(conn).get_columns(name)}
        for column in sorted(present & set(MARKS)):  # today's code defined them (before fix17a)
            conn.execute(text(f"ALTER TABLE {name} DROP COLUMN {column}"))
        conn.execute(
            v4.tenders.insert().values(
                tender_id="T-2019-001", title="Gritting salt", contracting_authority="GM0363",
                procedure="open", framework=False, phase="published",
                planned_on=date(2019, 1, 7), published_on=date(2019, 2, 1),
                corrections=[], clarifications=[], law_findings=[FINDING],
                valid_from=0, valid_to=FOREVER, known_from=0, known_to=FOREVER,
            )
        )  # fmt: skip
    return name


async def _no_events(contexts: Any) -> dict[str, int]:
    return {}  # the streams hold nothing: the v4 rows above are the whole read model


async def _reached(heads: dict[str, int], timeout: float) -> bool:
    return True


TENDER = """{ tender(tenderId: "T-2019-001") {
  tenderId title procedure procedureStated publishedOn publishedOnStated plannedTenderStart
  phase lawFindings { code }
} }"""
LIST = """query Q($asOf: Date) {
  tenders(asOf: $asOf, filter: {phase: [PUBLISHED]}, first: 10) {
    totalCount nodes { tenderId procedureStated publishedOnStated plannedTenderStart }
  }
}"""
FINDINGS = """{ lawFindings(first: 10) {
  nodes { code tenderId tender { tenderId procedureStated plannedTenderStart } }
} }"""
PHASES = "{ statistics { tendersByPhase { key count } } }"


async def test_a_live_v4_answers_tender_reads_while_v5_rebuilds(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'read-models.db'}"
    engine = make_engine(url)
    for kind in ALL:  # every read model's tables as today's code has them (tenders v5 too)
        projection_runner(None, engine, kind(), batch=10).create_tables()  # type: ignore[arg-type]
    v4_tenders = _deployed_v4(engine)
    assert not set(MARKS) & {c["name"] for c in inspect(engine).get_columns(v4_tenders)}
    assert TendersProjection().version >= MARKS_SINCE  # the code rebuilds a version with them

    rebuilding = SimpleNamespace(
        projection=TendersProjection(), live=False, live_version=4,
        stream_heads=_no_events, wait_until=_reached,  # a past horizon asks how far it is
    )  # fmt: skip
    read = ReadModels(engine, [rebuilding])  # type: ignore[list-item]
    assert read.tenders.version == 4
    gateway_settings = settings(database_url=url)
    token = issue_token(gateway_settings, Role.COORDINATOR, "coordinator-user")
    answers: dict[str, dict[str, Any]] = {}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=build_app(read, gateway_settings)),
        base_url="http://gateway.test",
    ) as client:
        for name, query, variables in [
            ("tender", TENDER, {}),
            ("list", LIST, {"asOf": None}),
            ("past list", LIST, {"asOf": "2019-03-01"}),
            ("findings", FINDINGS, {}),
            ("phases", PHASES, {}),
        ]:
            response = await client.post(
                "/graphql",
                json={"query": query, "variables": variables},
                headers={"authorization": f"Bearer {token}"},
            )
            answers[name] = response.json()
    engine.dispose()

    for name, answer in answers.items():
        assert "errors" not in answer, (name, answer)
    # What v4 never held reads as our own tenders have it: every fact stated, no plan start.
    assert answers["tender"]["data"]["tender"] == {
        "tenderId": "T-2019-001", "title": "Gritting salt", "procedure": "OPEN",
        "procedureStated": True, "publishedOn": "2019-02-01", "publishedOnStated": True,
        "plannedTenderStart": None, "phase": "PUBLISHED", "lawFindings": [{"code": "LATE_AWARD"}],
    }  # fmt: skip
    node = {
        "tenderId": "T-2019-001", "procedureStated": True, "publishedOnStated": True,
        "plannedTenderStart": None,
    }  # fmt: skip
    for listed in ("list", "past list"):
        assert answers[listed]["data"]["tenders"] == {"totalCount": 1, "nodes": [node]}, listed
    found = answers["findings"]["data"]["lawFindings"]["nodes"]
    assert found == [
        {"code": "LATE_AWARD", "tenderId": "T-2019-001",
         "tender": {"tenderId": "T-2019-001", "procedureStated": True,
                    "plannedTenderStart": None}},
    ]  # fmt: skip
    assert answers["phases"]["data"]["statistics"]["tendersByPhase"] == [
        {"key": "published", "count": 1}
    ]


def test_v5_defines_the_columns_v4_did_not() -> None:
    """The version that rebuilds (and every later one) holds them; v4's definition does not."""
    tables = {}
    for version in (4, MARKS_SINCE):
        projection = TendersProjection()
        projection.version = version  # type: ignore[misc]
        projection.define(MetaData())
        tables[version] = set(projection.tenders.c.keys())
    assert set(MARKS) <= tables[MARKS_SINCE]
    assert not set(MARKS) & tables[4]
    assert tables[MARKS_SINCE] - tables[4] == set(MARKS)
