"""While contracts v7 rebuilds beside a deployed v6, the gateway reads v6's table as v6 created
it (import33, as import30 did for v5 -> v6): v7 adds `end_stated` to contracts; a deployed v6
has none, and a SELECT naming it would fail every contract read until v7 took over. What v6
never held reads as stated (our own contracts, and every fact before the mark).

Real SQLite, the gateway's own app over GraphQL: the v6 contracts table as deployed, a runner
rebuilding v7 beside it (`live=False, live_version=6`), the contract read alone, in a list
(the compiled plan's path: a mark is not among the columns a list narrows to) and at a past
asOf."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
from sqlalchemy import MetaData, inspect

from bootstrap.parts import projection_runner
from eventstore.sql import make_engine
from eventstore.timeline import FOREVER
from gateway.app import build_app
from gateway.auth import Role, issue_token
from gateway.projections import ALL, ContractsProjection
from gateway.readmodels import ReadModels
from tests.integration.gateway.harness import settings

SINCE = 7
ALWAYS = {"valid_from": 0, "valid_to": FOREVER, "known_from": 0, "known_to": FOREVER}


def _deployed_v6(engine: Any) -> None:
    """The contracts v6 table as v6's code created it, one contract in it."""
    contracts = ContractsProjection()
    contracts.version = 6  # type: ignore[misc]
    metadata = MetaData()
    contracts.define(metadata)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            contracts.contracts.insert().values(
                contract_id="C-2019-001", kind="contract", tender_id="T-2019-001",
                lot_ids=["L1"], contracting_authority="GM0363", signed_on=date(2019, 3, 1),
                start_date=date(2019, 4, 1), end_date=date(2029, 3, 31), status="active",
                law_findings=[], signed_on_stated=True, start_stated=True, **ALWAYS,
            )
        )  # fmt: skip
    columns = {c["name"] for c in inspect(engine).get_columns(contracts.contracts.name)}
    assert "end_stated" not in columns
    assert {"signed_on_stated", "start_stated"} <= columns


async def _no_events(contexts: Any) -> dict[str, int]:
    return {}  # the streams hold nothing: the v6 rows above are the whole read model


async def _reached(heads: dict[str, int], timeout: float) -> bool:
    return True


def _rebuilding(projection: Any) -> SimpleNamespace:
    return SimpleNamespace(projection=projection, live=False, live_version=6,
                           stream_heads=_no_events, wait_until=_reached)  # fmt: skip


QUERY = """query Q($asOf: Date) {
  contract(contractId: "C-2019-001", asOf: $asOf) { endDate endStated startStated }
  contracts(asOf: $asOf, first: 5) { nodes { contractId endDate endStated } }
}"""


async def test_a_live_v6_answers_while_v7_rebuilds(tmp_path: Path) -> None:
    """Fails when `end_stated` is read from a v6 table (a SELECT of a missing column)."""
    url = f"sqlite:///{tmp_path / 'read-models.db'}"
    engine = make_engine(url)
    for kind in ALL:  # every read model's tables as today's code has them (v7 too)
        if kind is not ContractsProjection:
            projection_runner(None, engine, kind(), batch=10).create_tables()  # type: ignore[arg-type]
    _deployed_v6(engine)
    read = ReadModels(engine, [_rebuilding(ContractsProjection())])  # type: ignore[list-item]
    assert read.contracts.version == 6
    gateway_settings = settings(database_url=url)
    token = issue_token(gateway_settings, Role.COORDINATOR, "coordinator-user")
    answers = []
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=build_app(read, gateway_settings)),
        base_url="http://gateway.test",
    ) as client:
        for as_of in (None, "2019-06-01"):
            response = await client.post(
                "/graphql",
                json={"query": QUERY, "variables": {"asOf": as_of}},
                headers={"authorization": f"Bearer {token}"},
            )
            answers.append(response.json())
    engine.dispose()
    expected = {
        "contract": {"endDate": "2029-03-31", "endStated": True, "startStated": True},
        "contracts": {"nodes": [{"contractId": "C-2019-001", "endDate": "2029-03-31",
                                 "endStated": True}]},
    }  # fmt: skip
    assert answers == [{"data": expected}, {"data": expected}]


def test_v7_defines_the_column_v6_did_not() -> None:
    tables: dict[int, set[str]] = {}
    for version in (6, SINCE):
        contracts = ContractsProjection()
        contracts.version = version  # type: ignore[misc]
        contracts.define(MetaData())
        tables[version] = set(contracts.contracts.c.keys())
    assert ContractsProjection().version >= SINCE
    assert tables[SINCE] - tables[6] == {"end_stated"}
