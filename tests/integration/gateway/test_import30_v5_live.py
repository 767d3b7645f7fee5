"""While tenders v6 and contracts v6 rebuild beside a deployed v5, the gateway reads v5's tables
as v5 created them (import30; as review17b found for tenders v4 -> v5): v6 adds `title_stated`
to tenders and lots and `signed_on_stated` / `start_stated` to contracts; a deployed v5 has
none, and a SELECT naming them would fail every read until v6 took over. What v5 never held
reads as stated (our own tenders and contracts, and every fact before the marks).

Real SQLite, the gateway's own app over GraphQL: the v5 tables as deployed, runners rebuilding
v6 beside them (`live=False, live_version=5`), the contract read alone, in a list (the
compiled plan's path: a mark is not among the columns a list narrows to) and at a past asOf."""

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
from gateway.projections import ALL, ContractsProjection, TendersProjection
from gateway.readmodels import ReadModels
from tests.integration.gateway.harness import settings

MARKS = {"tenders": {"title_stated"}, "lots": {"title_stated"},
         "contracts": {"signed_on_stated", "start_stated"}}  # fmt: skip
SINCE = 6
ALWAYS = {"valid_from": 0, "valid_to": FOREVER, "known_from": 0, "known_to": FOREVER}


def _deployed_v5(engine: Any) -> None:
    """The tenders and contracts v5 tables as v5's code created them, one tender with a lot
    and one contract in them."""
    tenders, contracts = TendersProjection(), ContractsProjection()
    tenders.version = contracts.version = 5  # type: ignore[misc]
    metadata = MetaData()
    tenders.define(metadata)
    contracts.define(metadata)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            tenders.tenders.insert().values(
                tender_id="T-2019-001", title="Gritting salt", contracting_authority="GM0363",
                procedure="open", procedure_stated=True, framework=False, phase="published",
                planned_on=date(2019, 1, 7), published_on=date(2019, 2, 1),
                published_on_stated=True, corrections=[], clarifications=[], law_findings=[],
                **ALWAYS,
            )
        )  # fmt: skip
        conn.execute(
            tenders.lots.insert().values(
                tender_id="T-2019-001", lot_id="L1", position=0, title="Zout", status="open",
                bidder_ids=[], supplier_ids=[], previous_supplier_ids=[], review_pending=False,
                **ALWAYS,
            )
        )  # fmt: skip
        conn.execute(
            contracts.contracts.insert().values(
                contract_id="C-2019-001", kind="contract", tender_id="T-2019-001",
                lot_ids=["L1"], contracting_authority="GM0363", signed_on=date(2019, 3, 1),
                start_date=date(2019, 4, 1), end_date=date(2029, 3, 31), status="active",
                law_findings=[], **ALWAYS,
            )
        )  # fmt: skip
    for name, table in (("tenders", tenders.tenders), ("lots", tenders.lots),
                        ("contracts", contracts.contracts)):  # fmt: skip
        assert not MARKS[name] & {c["name"] for c in inspect(engine).get_columns(table.name)}


async def _no_events(contexts: Any) -> dict[str, int]:
    return {}  # the streams hold nothing: the v5 rows above are the whole read model


async def _reached(heads: dict[str, int], timeout: float) -> bool:
    return True


def _rebuilding(projection: Any) -> SimpleNamespace:
    return SimpleNamespace(projection=projection, live=False, live_version=5,
                           stream_heads=_no_events, wait_until=_reached)  # fmt: skip


def _rebuilding(projection: Any) -> SimpleNamespace:
    return SimpleNamespace(projection=projection, live=False, live_version=5,
                           stream_heads=_no_events, wait_until=_reached)  # fmt: skip


QUERY = """query Q($asOf: Date) {
  tender(tenderId: "T-2019-001", asOf: $asOf) { title titleStated lots { lotId titleStated } }
  contract(contractId: "C-2019-001", asOf: $asOf) { signedOn signedOnStated startStated }
  contracts(asOf: $asOf, first: 5) { nodes { contractId signedOnStated startStated } }
}"""


async def test_a_live_v5_answers_while_v6_rebuilds(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'read-models.db'}"
    engine = make_engine(url)
    for kind in ALL:  # every read model's tables as today's code has them (v6 too)
        projection_runner(None, engine, kind(), batch=10).create_tables()  # type: ignore[arg-type]
    _deployed_v5(engine)
    rebuilding = [_rebuilding(kind()) for kind in (TendersProjection, ContractsProjection)]
    read = ReadModels(engine, rebuilding)  # type: ignore[arg-type]
    assert (read.tenders.version, read.contracts.version) == (5, 5)
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
    node = {"contractId": "C-2019-001", "signedOnStated": True, "startStated": True}
    expected = {
        "tender": {"title": "Gritting salt", "titleStated": True,
                   "lots": [{"lotId": "L1", "titleStated": True}]},
        "contract": {"signedOn": "2019-03-01", "signedOnStated": True, "startStated": True},
        "contracts": {"nodes": [node]},
    }  # fmt: skip
    assert answers == [{"data": expected}, {"data": expected}]


def test_v6_defines_the_columns_v5_did_not() -> None:
    tables: dict[int, dict[str, set[str]]] = {}
    for version in (5, SINCE):
        tenders, contracts = TendersProjection(), ContractsProjection()
        tenders.version = contracts.version = version  # type: ignore[misc]
        tenders.define(MetaData())
        contracts.define(MetaData())
        tables[version] = {
            "tenders": set(tenders.tenders.c.keys()),
            "lots": set(tenders.lots.c.keys()),
            "contracts": set(contracts.contracts.c.keys()),
        }
    assert TendersProjection().version >= SINCE
    assert ContractsProjection().version >= SINCE
    for name, marks in MARKS.items():
        assert tables[SINCE][name] - tables[5][name] == marks, name
