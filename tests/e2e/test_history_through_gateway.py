"""History through the gateway on the `make run` demo: as-of answers on every root, the
audit fields mounted with the gateway's roles, timelines, field history and OCDS packages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from bootstrap.demo import KPN, load_demo
from bootstrap.embedded import embedded
from bootstrap.system import System
from gateway.auth import Role, issue_token
from gateway.commandbus import CommandBus
from gateway.serve import Server

pytestmark = pytest.mark.asyncio(loop_scope="module")

VT = "vt-0800-2000"
TENDER_AT = """query ($asOf: Date, $knownAt: DateTime) {
  tender(tenderId: "vt-0800-2000", asOf: $asOf, knownAt: $knownAt) {
    phase publishedOn lots { status supplierIds standstillEndsOn awardedOn }
  }
}"""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def demo(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[System, Server]]:
    data: Path = tmp_path_factory.mktemp("history") / "data"
    async with embedded(data, port=0) as (system, server):
        refused: list[str] = []
        await load_demo(CommandBus(system.nc), say=refused.append)
        assert refused == []
        yield system, server


def token(system: System, role: Role, org: str | None = None) -> str | None:
    if role is Role.ANONYMOUS:
        return None
    return issue_token(system.settings, role, f"e2e-{role.value}", organisation=org)


async def ask(
    server: Server, query: str, bearer: str | None = None, **variables: Any
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        response = await client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def codes(body: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


async def test_lnvt_as_of_the_standstill_then_definitive_then_not_yet_known(
    demo: tuple[System, Server],
) -> None:
    system, server = demo
    anonymous = None  # awards are public facts: no token needed

    during = await ask(server, TENDER_AT, anonymous, asOf="2020-11-20")
    assert during["data"]["tender"]["phase"] == "PROVISIONALLY_AWARDED"
    [lot] = during["data"]["tender"]["lots"]
    assert lot["status"] == "PROVISIONALLY_AWARDED"
    assert lot["supplierIds"] == [KPN]
    assert lot["standstillEndsOn"] > "2020-11-20"  # still in standstill on the 20th
    assert lot["awardedOn"] is None

    later = await ask(server, TENDER_AT, anonymous, asOf="2021-01-01")
    assert later["data"]["tender"]["phase"] == "AWARDED"
    assert later["data"]["tender"]["lots"][0]["status"] == "AWARDED"
    assert later["data"]["tender"]["lots"][0]["supplierIds"] == [KPN]

    # The demo was recorded today; the registry knew nothing of it a year ago.
    before = await ask(
        server, TENDER_AT, anonymous, asOf="2021-01-01", knownAt="2000-01-01T00:00:00Z"
    )
    assert before == {"data": {"tender": None}}

    # The auditor's replay folds with the same fold and says the same, in the same words.
    auditor = token(system, Role.AUDITOR)
    fold = """query ($asOf: Date, $knownAt: DateTime) {
      history(aggregate: "tender/vt-0800-2000", asOf: $asOf, knownAt: $knownAt) { exists state }
    }"""
    state = (await ask(server, fold, auditor, asOf="2020-11-20"))["data"]["history"]["state"]
    [lot] = [x for x in state["lots"] if x["lot_id"] == "telephony"]
    assert (state["phase"], lot["status"], lot["supplier_ids"]) == (
        "provisionally_awarded", "provisionally_awarded", [KPN],
    )  # fmt: skip
    state = (await ask(server, fold, auditor, asOf="2021-01-01"))["data"]["history"]["state"]
    assert [x["status"] for x in state["lots"] if x["lot_id"] == "telephony"] == ["awarded"]
    nothing = await ask(server, fold, auditor, asOf="2021-01-01", knownAt="2000-01-01T00:00:00Z")
    assert nothing["data"]["history"]["exists"] is False


async def test_connections_answer_at_the_horizon_and_nested_lists_follow_it(
    demo: tuple[System, Server],
) -> None:
    system, server = demo
    coordinator = token(system, Role.COORDINATOR)
    query = """query ($asOf: Date) {
      tenders(asOf: $asOf, filter: {phase: [PROVISIONALLY_AWARDED]}) {
        totalCount nodes { tenderId lots { supplierIds } }
      }
      contracts(asOf: $asOf) { totalCount }
      events(asOf: $asOf, first: 100) { totalCount }
    }"""
    then = (await ask(server, query, coordinator, asOf="2020-11-20"))["data"]
    assert [t["tenderId"] for t in then["tenders"]["nodes"]] == [VT]
    assert then["tenders"]["nodes"][0]["lots"] == [{"supplierIds": [KPN]}]
    now = (await ask(server, query, coordinator))["data"]
    assert now["tenders"]["totalCount"] == 0  # every demo tender is past provisional now
    # GT MC1's framework (2015) and its two call-offs (2016): call-offs are contracts too;
    # now also Veilig Thuis telephony, signed 2020-12-15.
    assert then["contracts"]["totalCount"] == 3
    assert now["contracts"]["totalCount"] == 4
    assert then["events"]["totalCount"] < now["events"]["totalCount"]

    long_ago = (await ask(server, query, coordinator, asOf="2014-01-01"))["data"]
    assert long_ago["tenders"]["totalCount"] == 0
    assert long_ago["contracts"]["totalCount"] == 0


async def test_the_past_at_the_end_of_time_equals_the_present(demo: tuple[System, Server]) -> None:
    # The snapshot replays the gateway's own projections: far enough ahead it is the live model.
    system, server = demo
    coordinator = token(system, Role.COORDINATOR)
    query = """query ($asOf: Date, $knownAt: DateTime) {
      tenders(asOf: $asOf, knownAt: $knownAt) { totalCount nodes { tenderId phase lots { status } } }
      contracts(asOf: $asOf, knownAt: $knownAt, first: 50) {
        nodes { contractId kind status endDate contractingAuthorityCode participants { organisationCode } }
      }
      organisations(asOf: $asOf, knownAt: $knownAt, first: 100) { totalCount nodes { code name } }
      callOffs(asOf: $asOf, knownAt: $knownAt) { nodes { callOffId supplierId } }
      statistics(asOf: $asOf, knownAt: $knownAt) { participationByProgramme { key participating } }
    }"""
    present = await ask(server, query, coordinator)
    past = await ask(server, query, coordinator, asOf="2999-12-31", knownAt="2999-12-31T00:00:00Z")
    assert "errors" not in present, present
    assert past == present


async def test_roots_without_a_past_and_mixed_horizons_refuse_clearly(
    demo: tuple[System, Server],
) -> None:
    system, server = demo
    coordinator = token(system, Role.COORDINATOR)
    health = await ask(
        server, '{ health(asOf: "2020-01-01") { projections { name } } }', coordinator
    )
    assert codes(health) == ["NO_PAST_ANSWER"]
    assert "has no asOf/knownAt" in health["errors"][0]["message"]
    mixed = await ask(
        server,
        '{ a: tender(tenderId: "vt-0800-2000", asOf: "2020-11-20") { phase }'
        ' b: tender(tenderId: "vt-0800-2000") { phase } }',
        coordinator,
    )
    assert "HORIZON_MIXED" in codes(mixed)
    naive = await ask(server, TENDER_AT, coordinator, knownAt="2020-11-20T12:00:00")
    assert codes(naive) == ["INVALID_ARGUMENT"]


async def test_audit_fields_follow_the_gateway_roles(demo: tuple[System, Server]) -> None:
    system, server = demo
    query = '{ history(aggregate: "tender/vt-0800-2000") { exists } }'
    for role in (Role.AUDITOR, Role.COORDINATOR):
        body = await ask(server, query, token(system, role))
        assert body == {"data": {"history": {"exists": True}}}, role
    for role, org in ((Role.PARTICIPANT, "GM0518"), (Role.ANONYMOUS, None)):
        for field in (
            query,
            '{ entitiesAsOf(aggregateType: "tender") { aggregateId } }',
            '{ ocds(tenderId: "vt-0800-2000") }',
        ):
            body = await ask(server, field, token(system, role, org))
            assert codes(body) == ["FORBIDDEN"], (role, field)
    # In the past, the gateway's field rules still hold: enrolments are not public.
    past = await ask(
        server,
        '{ tender(tenderId: "vt-0800-2000", asOf: "2020-11-20") { participants { organisationCode } } }',
    )
    assert codes(past) == ["FORBIDDEN"]
    bad = await ask(
        server,
        '{ entitiesAsOf(aggregateType: "tenders") { aggregateId } }',
        token(system, Role.AUDITOR),
    )
    assert "unknown aggregate type 'tenders'" in bad["errors"][0]["message"]


async def test_timeline_field_history_and_ocds_packages(demo: tuple[System, Server]) -> None:
    system, server = demo
    auditor = token(system, Role.AUDITOR)
    body = await ask(
        server,
        """{ history(aggregate: "tender/vt-0800-2000") {
              timeline { eventType occurredAt recordedAt actor summary changes { path } }
              fieldHistory { path versions }
            }
            ocds(tenderId: "vt-0800-2000", knownAt: "2999-01-01T00:00:00Z") }""",
        auditor,
    )
    assert "errors" not in body, body
    history = body["data"]["history"]
    types = [t["eventType"] for t in history["timeline"]]
    assert types[0] == "TenderPlanned"
    assert "AwardMadeDefinitive" in types
    award = next(t for t in history["timeline"] if t["eventType"] == "ProvisionalAwardDecided")
    assert award["occurredAt"].startswith("2020-11-13")
    assert award["actor"] == "coordinator:demo"
    assert award["recordedAt"] > award["occurredAt"]
    assert award["summary"]
    phases = next(f for f in history["fieldHistory"] if f["path"] == "phase")["versions"]
    assert [v["value"] for v in phases][-2:] == ["provisionally_awarded", "awarded"]
    ocds = body["data"]["ocds"]
    assert set(ocds) >= {"release_package", "record_package"}
    record = ocds["record_package"]["records"][0]
    assert record["compiledRelease"]["awards"][0]["status"] == "active"
    assert ocds["record_package"]["publishedDate"].startswith("2999-01-01")
