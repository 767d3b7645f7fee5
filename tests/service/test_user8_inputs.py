"""Bad input at the gateway's public interface gets a specific error, never "Unexpected error".

Each test failed before its fix (user8's walk through the README and the domain scenarios).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bootstrap.demo import GT_PARTICIPANTS, load_demo
from bootstrap.parts import enrolment_service, notifier_service, registry_service
from eventstore.clock import FixedClock
from eventstore.memory import InMemoryEventStore
from tests.integration.gateway.harness import Gateway, start_memory_gateway
from tests.service.bus import InProcessBus
from tests.service.gateways import gateway_of_every_service


@pytest.fixture
async def gateway(
    store: InMemoryEventStore, clock: FixedClock, tmp_path: Path
) -> AsyncIterator[Gateway]:
    async with gateway_of_every_service(store, clock, tmp_path, demo=True) as g:
        yield g


def messages(body: dict[str, Any]) -> str:
    return " | ".join(e["message"] for e in body.get("errors", []))


@pytest.mark.parametrize(
    "query",
    [
        '{ tenders(asOf: "9999-12-31") { totalCount } }',
        '{ history(aggregate: "tender/gt-mc1", asOf: "9999-12-31") { aggregateId } }',
        '{ ocds(tenderId: "gt-mc1", asOf: "9999-12-31") }',
        '{ tenders(knownAt: "0001-01-01T00:00:00+01:00") { totalCount } }',
    ],
)
async def test_a_date_beyond_the_calendar_is_refused_by_name(gateway: Gateway, query: str) -> None:
    body = await gateway.query(query, token=gateway.token("auditor"))
    assert body.get("data") is None, body
    assert "out of range: from 0001-01-02 to 9999-12-30" in messages(body), body
    assert "Unexpected error" not in messages(body)


async def test_a_date_beyond_the_calendar_in_a_variable_is_refused_by_name(
    gateway: Gateway,
) -> None:
    body = await gateway.query(
        "query Q($d: Date) { tenders(asOf: $d) { totalCount } }",
        {"d": "9999-12-31"},
        token=gateway.token("auditor"),
    )
    assert "out of range: from 0001-01-02 to 9999-12-30" in messages(body), body


async def test_the_last_representable_dates_still_answer(gateway: Gateway) -> None:
    body = await gateway.query(
        '{ tenders(asOf: "9999-12-30", knownAt: "9999-12-30T23:00:00Z") { totalCount } }',
        token=gateway.token("auditor"),
    )
    assert "errors" not in body, body


async def test_the_demo_answers_as_of_its_own_years_with_its_organisations(
    store: InMemoryEventStore, clock: FixedClock, tmp_path: Path
) -> None:
    """`make run`'s demo: what was true on 2017-01-01 names the framework's contracting
    authority, participants and call-off participants (they were null: every organisation
    was registered on the day of the first load)."""
    services = [
        registry_service(store, clock),
        enrolment_service(store, clock),
        notifier_service(store, clock),
    ]
    for service in services:
        await service.start()
    bus = InProcessBus(services)
    g = await start_memory_gateway(store, f"sqlite:///{tmp_path / 'rm.db'}", commands=bus)
    try:
        refused: list[str] = []
        loaded = await load_demo(bus, say=refused.append)  # type: ignore[arg-type]
        assert refused == []
        assert g.read is not None
        await g.read.wait_for(loaded.consistency_token, timeout=10)
        body = await g.query(
            '{ contract(contractId: "gt-mc1-framework", asOf: "2017-01-01") {'
            " contractingAuthority { name } participants { organisation { code } }"
            " callOffs { participant { code } } } }",
            token=g.token("coordinator"),
        )
        assert "errors" not in body, body
        contract = body["data"]["contract"]
        assert contract["contractingAuthority"] == {"name": "Vereniging van Nederlandse Gemeenten"}
        assert sorted(p["organisation"]["code"] for p in contract["participants"]) == sorted(
            GT_PARTICIPANTS
        )
        assert {c["participant"]["code"] for c in contract["callOffs"]} == {"GM0363", "GM0518"}
    finally:
        await g.stop()


async def test_the_parked_event_list_refused_anonymously_says_so_in_words(
    gateway: Gateway,
) -> None:
    body = await gateway.query("{ health { ok parked { projection } } }")
    assert "the parked-event list is not public; sign in" in messages(body), body
    assert (await gateway.query("{ health { ok } }"))["data"]["health"]["ok"] is True


async def test_a_code_of_the_wrong_form_is_named_in_words_not_as_a_regular_expression(
    gateway: Gateway,
) -> None:
    body = await gateway.query(
        'mutation { transferContract(input: {contractId: "gt-mc1-framework", toAuthority: "NOPE"})'
        " { __typename ... on InvalidInput { message problems { path message } } } }",
        token=gateway.token("coordinator"),
    )
    result = body["data"]["transferContract"]
    assert result["__typename"] == "InvalidInput", body
    [problem] = result["problems"]
    assert problem["path"] == "toAuthority"
    assert problem["message"].startswith("'NOPE' is not an organisation code: GM#### (CBS)")
    assert "^(" not in result["message"]
    body = await gateway.query(
        'mutation { planTender(input: {tenderId: "a b", title: "T", contractingAuthority:'
        ' "GM0363", procedure: OPEN, framework: false, lots: [{lotId: "l", title: "L"}]})'
        " { __typename ... on InvalidInput { problems { path message } } } }",
        token=gateway.token("coordinator"),
    )
    assert body["data"]["planTender"]["problems"] == [
        {
            "path": "tenderId",
            "message": "'a b' is not an identifier: 1 to 128 letters, digits, '-' or '_'"
            " (it holds spaces, which none may: e.g. KVK-12345678, not KVK 1234 5678)",
        }
    ], body


async def test_a_refused_long_value_is_not_repeated_whole(gateway: Gateway) -> None:
    long_id = "a b" + "x" * 100_000
    body = await gateway.query(
        'mutation($t: String!) { planTender(input: {tenderId: $t, title: "T",'
        ' contractingAuthority: "GM0363", procedure: OPEN, framework: false,'
        ' lots: [{lotId: "l", title: "L"}]})'
        " { __typename ... on InvalidInput { message problems { path message } } } }",
        token=gateway.token("coordinator"),
        variables={"t": long_id},
    )
    result = body["data"]["planTender"]
    assert result["__typename"] == "InvalidInput", body
    [problem] = result["problems"]
    assert problem["path"] == "tenderId"
    assert "100,003 characters" in problem["message"], problem
    assert len(problem["message"]) < 400, len(problem["message"])
    assert len(result["message"]) < 400, len(result["message"])
