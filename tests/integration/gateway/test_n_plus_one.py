"""DataLoaders: a nested list query costs the same number of SQL statements for 2 or 12 rows."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import event

from eventstore.store import StoredEvent
from tests.integration.gateway.harness import Gateway

NESTED = """{ tenders(first: 50) { totalCount nodes {
  title programme { name } contractingAuthority { name }
  lots { title suppliers { name } }
  participants { organisation { name } tender { title } }
  contracts { suppliers { name } contractingAuthority { name } callOffs { supplier { name } } }
} } }"""


async def add_tenders(g: Gateway, start: int, count: int) -> list[StoredEvent]:
    stored: list[StoredEvent] = []
    for i in range(start, start + count):
        code = f"GM{i:04d}"
        stored += await g.given(
            "organisation",
            "OrganisationRegistered",
            {"code": code, "name": f"Gemeente {i}", "kind": "municipality", "province": "Utrecht"},
        )
        stored += await g.given(
            "tender",
            "TenderPlanned",
            {
                "tender_id": f"t{i}",
                "programme_id": "GT",
                "title": f"Tender {i}",
                "contracting_authority": code,
                "procedure": "open",
                "framework": True,
                "lots": [{"lot_id": "a", "title": "A"}, {"lot_id": "b", "title": "B"}],
                "planned_on": "2015-01-01",
            },
        )
        stored += await g.given(
            "enrolment_window",
            "EnrolmentWindowOpened",
            {
                "tender_id": f"t{i}",
                "lot_ids": ["a", "b"],
                "opens_on": "2015-01-15",
                "closes_on": "2015-03-01",
            },
            on=date(2015, 1, 15),
        )
        stored += await g.given(
            "enrolment_window",
            "ParticipantEnrolled",
            {
                "tender_id": f"t{i}",
                "organisation_code": code,
                "lot_ids": ["a"],
                "power_of_attorney_ref": f"poa-{code}",
                "enrolled_on": "2015-02-01",
            },
            on=date(2015, 2, 1),
        )
        stored += await g.given(
            "contract",
            "ContractSigned",
            {
                "contract_id": f"c{i}",
                "kind": "framework",
                "tender_id": f"t{i}",
                "lot_ids": ["a"],
                "contracting_authority": code,
                "suppliers": [{"supplier_id": "KVK-02045200", "name": "KPN", "lot_ids": ["a"]}],
                "signed_on": "2016-01-01",
                "start_date": "2016-01-01",
                "end_date": "2020-01-01",
            },
        )
    return stored


async def count_statements(g: Gateway) -> tuple[int, dict[str, Any]]:
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    event.listen(g.engine, "before_cursor_execute", record)
    try:
        body = await g.query(NESTED, token=g.token("coordinator"))
    finally:
        event.remove(g.engine, "before_cursor_execute", record)
    assert "errors" not in body, body
    return len(statements), body


async def test_nested_list_query_costs_constant_statements(gateway: Gateway) -> None:
    await gateway.settle(
        await gateway.given(
            "programme",
            "ProgrammePlanned",
            {
                "programme_id": "GT",
                "name": "GT",
                "coordinator": "GM0001",
                "planned_on": "2015-01-01",
            },
        )
    )
    await gateway.settle(await add_tenders(gateway, 1, 2))
    small, body = await count_statements(gateway)
    assert body["data"]["tenders"]["totalCount"] == 2

    await gateway.settle(await add_tenders(gateway, 3, 10))
    large, body = await count_statements(gateway)
    assert body["data"]["tenders"]["totalCount"] == 12
    assert len(body["data"]["tenders"]["nodes"][11]["lots"]) == 2

    assert small == large, f"{small} statements for 2 tenders, {large} for 12"
    assert large <= 20  # count + page + one per nested field per depth level


async def count_round_trips(g: Gateway) -> int:
    """Connections the request takes: each is one hop to the database thread."""
    trips: list[object] = []

    def record(*args: Any) -> None:
        trips.append(args[0])

    event.listen(g.engine, "engine_connect", record)
    try:
        body = await g.query(NESTED, token=g.token("coordinator"))
    finally:
        event.remove(g.engine, "engine_connect", record)
    assert "errors" not in body, body
    return len(trips)


async def test_one_round_trip_per_list_level(gateway: Gateway) -> None:
    await gateway.settle(
        await gateway.given(
            "programme",
            "ProgrammePlanned",
            {
                "programme_id": "GT",
                "name": "GT",
                "coordinator": "GM0001",
                "planned_on": "2015-01-01",
            },
        )
    )
    await gateway.settle(await add_tenders(gateway, 1, 2))
    small = await count_round_trips(gateway)
    await gateway.settle(await add_tenders(gateway, 3, 10))
    large = await count_round_trips(gateway)
    assert small == large, f"{small} round trips for 2 tenders, {large} for 12"
    # The page (count and rows together), then one per level below it that reads: the
    # tenders' programme/authority/lots/participants/contracts, then their suppliers,
    # organisations and call-offs, then the call-offs' suppliers.
    assert large <= 4, f"{large} round trips for a query four levels deep"
