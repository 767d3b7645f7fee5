"""The compiled executor (gateway/schema/compiled.py) answers byte for byte as strawberry.

A recorded history of the frozen corpus, projected once; two gateway apps over the same read
models: one answering kept documents by their compiled plans, one running every request
through strawberry. Every document below is asked of both, as each role, and the answers
(status and body bytes: data, errors, their order) must be identical. Each is asked twice of
the compiled app: the first asking parses and keeps the document (the ordinary path), the
second is the compiled plan's (or its fallback's, for what a plan does not cover).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.suites.graphql import EXPIRING, FRAMEWORK, TENDER_AS_OF
from contracts_schema.subjects import CONTEXTS
from eventstore.memory import InMemoryEventStore
from gateway.app import build_app
from tests.corpus import corpus
from tests.integration.gateway.harness import Gateway, start_memory_gateway

RECORDING = "2026-11-v3"


@dataclass
class Pair:
    gateway: Gateway
    compiled: httpx.AsyncClient
    plain: httpx.AsyncClient
    app: Any
    ids: dict[str, Any]

    async def ask(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes, int]:
        """Both apps' answers, asserted equal: (status, body, plans answered so far)."""
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = variables
        headers = dict(headers or {})
        if token is not None:
            headers["Authorization"] = token
        expected = await self.plain.post("/graphql", json=body, headers=headers)
        for _ in range(2):  # kept by the first asking, compiled (or not) at the second
            got = await self.compiled.post("/graphql", json=body, headers=headers)
            assert (got.status_code, got.content) == (expected.status_code, expected.content), (
                f"{query}\n{variables}\n{token}"
            )
        return expected.status_code, expected.content, self.app.state.graphql.compiled.answered


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[Pair]:
    store = await corpus.loaded(RECORDING)
    path = tmp_path / "views.db"
    g = await start_memory_gateway(store, f"sqlite:///{path}")
    for runner in g.runners:
        assert await runner.wait_until(await runner.stream_heads(), timeout=120)
    assert g.read is not None
    compiled_app = build_app(g.read, g.settings, compiled=True)
    plain_app = build_app(g.read, g.settings, compiled=False)
    base = "http://gateway.test"
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=compiled_app), base_url=base) as c,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=plain_app), base_url=base) as p,
    ):
        pair = Pair(g, c, p, compiled_app, {})
        pair.ids = await pick(pair)
        yield pair
    await g.stop()


async def pick(pair: Pair) -> dict[str, Any]:
    """Ids of the history that make the documents below interesting."""
    coordinator = f"Bearer {pair.gateway.token('coordinator')}"
    _, raw, _ = await pair.ask(
        """{ contracts(first: 100) { nodes { contractId kind endDate status
             callOffs { callOffId participantCode } participants { organisationCode } } } }""",
        token=coordinator,
    )
    nodes = json.loads(raw)["data"]["contracts"]["nodes"]
    framework = max(nodes, key=lambda n: (len(n["callOffs"] or []), n["contractId"]))
    assert framework["callOffs"], "the recording has a framework with call-offs"
    call_off_holder = framework["callOffs"][0]["participantCode"]
    others = [
        p["organisationCode"]
        for p in framework["participants"] or []
        if p["organisationCode"] != call_off_holder
    ]
    call_offs = [n for n in nodes if n["kind"] == "CALL_OFF"]
    ends = sorted(n["endDate"] for n in nodes if n["status"] == "ACTIVE")
    _, raw, _ = await pair.ask(
        "{ events(filter: {aggregateType: TENDER}, first: 1) { nodes { aggregateId recordedAt } } }",
        token=coordinator,
    )
    event = json.loads(raw)["data"]["events"]["nodes"][0]
    return {
        "framework": framework["contractId"],
        "call_off": call_offs[0]["contractId"] if call_offs else framework["contractId"],
        "holder": call_off_holder,
        "other": others[0] if others else "GM9999",
        "from": ends[0],
        "to": ends[-1],
        "mid": ends[len(ends) // 2],
        "tender": event["aggregateId"],
        "recorded": event["recordedAt"],
    }


def roles(pair: Pair) -> dict[str, str | None]:
    g, ids = pair.gateway, pair.ids
    return {
        "coordinator": f"Bearer {g.token('coordinator')}",
        "auditor": f"Bearer {g.token('auditor')}",
        "holder": f"Bearer {g.token('participant', ids['holder'])}",
        "other participant": f"Bearer {g.token('participant', ids['other'])}",
        "participant of no organisation": f"Bearer {g.token('participant')}",
        "anonymous": None,
        "bad token": "Bearer not-a-token",
    }


FRAGMENTS = """query($id: String!) {
  __typename
  c: contract(contractId: $id) {
    __typename cid: contractId ...F
    ps: participants { ... on Participant { organisationCode status frozen enrolledOn } lotIds }
    callOffs { ...CO __typename }
    participants { organisationCode }
  }
}
fragment F on Contract {
  kind status endDate startDate signedOn valueEur lotIds title maxExtentDate tenderId
  contractingAuthorityCode payingAgentCode frameworkContractId endedOn endReason lastAmendment
}
fragment CO on CallOff {
  callOffId awardedOn valueEur procedure lotId tenderId supplierId participantCode startDate
  endDate frameworkContractId
}"""
DIRECTIVES = """query($id: String!, $with: Boolean!, $without: Boolean!) {
  contract(contractId: $id) {
    contractId
    participants @include(if: $with) { organisationCode }
    callOffs @skip(if: $without) { callOffId @include(if: $with) participantCode }
    kind @skip(if: true)
  }
}"""
PAGES = """query($from: Date!, $to: Date!, $first: Int, $after: String) {
  expiringContracts(from: $from, to: $to, first: $first, after: $after) {
    __typename totalCount
    pageInfo { __typename hasNextPage endCursor }
    edges { __typename cursor node { __typename contractId endDate valueEur lotIds kind } }
    nodes { contractId status contractingAuthorityCode }
  }
}"""
LAST_CURSOR = """query($from: Date!, $to: Date!) {
  expiringContracts(from: $from, to: $to, first: 4) {
    pageInfo { endCursor } edges { node { contractId } } }
  after: expiringContracts(from: $from, to: $to, first: 0) { pageInfo { endCursor } }
}"""
PAST = """query($from: Date!, $to: Date!, $asOf: Date, $knownAt: DateTime) {
  expiringContracts(from: $from, to: $to, first: 5, asOf: $asOf, knownAt: $knownAt) {
    totalCount edges { cursor node { contractId status endDate } }
  }
}"""
CONTRACT_PAST = """query($id: String!, $asOf: Date, $knownAt: DateTime) {
  contract(contractId: $id, asOf: $asOf, knownAt: $knownAt) {
    contractId status endDate participants { organisationCode } callOffs { callOffId }
  }
}"""
EVENTS = """query($f: EventFilter, $first: Int, $after: String, $knownAt: DateTime) {
  events(filter: $f, first: $first, after: $after, knownAt: $knownAt) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { eventId eventType context stream sequence aggregateType aggregateId
      aggregateVersion occurredAt recordedAt commandId correlationId payload } }
    nodes { eventType aggregateId }
  }
}"""
ROOTS = """query($from: Date!, $to: Date!, $id: String!) {
  a: expiringContracts(from: $from, to: $to, first: 2) { totalCount nodes { contractId } }
  b: contract(contractId: $id) { contractId callOffs { callOffId } }
  c: contract(contractId: "no-such-contract") { contractId }
  __typename
}"""
# Outside what a plan covers: each answered the ordinary way, all the same.
NOT_PLANNED = [
    '{ contract(contractId: "%(framework)s") { id contractId lawFindings { code } } }',
    '{ contract(contractId: "%(framework)s") { tender { title } callOffs { supplier { name } } } }',
    '{ contract(contractId: "%(framework)s") { participants { powerOfAttorneyRef } } }',
    "{ events(first: 3) { nodes { actor position } } }",
    "{ contracts(first: 3) { nodes { contractId } } }",
    "{ __schema { queryType { name } } }",
]
ERRORS = [
    # a page past the cap, a cursor of another list, a knownAt without a timezone
    '{ expiringContracts(from: "%(from)s", to: "%(to)s", first: 1000) { totalCount } }',
    '{ expiringContracts(from: "%(from)s", to: "%(to)s", after: "bogus") { totalCount } }',
    '{ contract(contractId: "%(framework)s", knownAt: "2020-01-01T00:00:00") { contractId } }',
    # two horizons in one request; a malformed consistency token; an unknown argument value
    """{ a: contract(contractId: "%(framework)s", asOf: "2020-01-01") { contractId }
         b: contract(contractId: "%(framework)s") { contractId } }""",
    '{ contract(contractId: "%(framework)s", consistencyToken: "nonsense") { contractId } }',
    "{ events(filter: {aggregateType: NOTHING}) { totalCount } }",
    '{ expiringContracts(from: "not a date", to: "%(to)s") { totalCount } }',
    '{ contract(contractId: "%(framework)s") { contractId noSuchField } }',
]


def documents(ids: dict[str, Any]) -> list[tuple[str, dict[str, Any] | None]]:
    """Every document with its variables; the first PLANNED are answered by their plans
    when a coordinator asks (every other falls back: an error, or not a plan's to answer)."""
    f, t = ids["from"], ids["to"]
    found: list[tuple[str, dict[str, Any] | None]] = [
        (EXPIRING, {"from": f, "to": t}),
        (FRAMEWORK, {"id": ids["framework"]}),
        (FRAMEWORK, {"id": ids["call_off"]}),
        (FRAMEWORK, {"id": "no-such-contract"}),
        (TENDER_AS_OF, {"id": ids["tender"], "before": "2100-01-01T00:00:00+00:00"}),
        (TENDER_AS_OF, {"id": ids["tender"], "before": ids["recorded"]}),
        (FRAGMENTS, {"id": ids["framework"]}),
        (FRAGMENTS, {"id": ids["call_off"]}),
        (ROOTS, {"from": f, "to": t, "id": ids["framework"]}),
        (PAGES, {"from": f, "to": t, "first": 3}),
        (PAGES, {"from": f, "to": t, "first": 0}),
        (PAGES, {"from": ids["mid"], "to": t}),
        (LAST_CURSOR, {"from": f, "to": t}),
        (PAST, {"from": f, "to": t, "asOf": "2019-06-01"}),
        (PAST, {"from": f, "to": t, "knownAt": "2019-06-01T12:00:00+02:00"}),
        (PAST, {"from": f, "to": t, "asOf": "2021-01-01", "knownAt": ids["recorded"]}),
        (PAST, {"from": f, "to": t, "knownAt": "2999-01-01T00:00:00Z"}),
        (CONTRACT_PAST, {"id": ids["framework"], "asOf": "2018-01-01"}),
        (CONTRACT_PAST, {"id": ids["framework"], "knownAt": ids["recorded"]}),
        (EVENTS, {"first": 5}),
        (EVENTS, {"f": {"organisationCode": ids["holder"]}, "first": 4}),
        (EVENTS, {"f": {"organisationCode": ids["other"]}}),
        (
            EVENTS,
            {"f": {"eventTypes": ["CallOffAwarded", "ContractSigned"], "context": "REGISTRY"}},
        ),
        (EVENTS, {"f": {"recordedFrom": ids["recorded"], "aggregateType": "CONTRACT"}}),
        (EVENTS, {"f": {"aggregateId": ids["tender"]}, "knownAt": ids["recorded"]}),
        (EVENTS, {"f": {"eventTypes": []}, "first": 2}),
        *(
            (DIRECTIVES, {"id": ids["framework"], "with": with_, "without": without})
            for with_, without in ((True, False), (False, True), (True, True), (False, False))
        ),
        # PLANNED: the documents above
        (PAGES, {"from": t, "to": f}),  # a range ending before it starts: refused alike
        (EVENTS, {"first": -1}),
        (EVENTS, {"f": {"context": "NOWHERE"}}),
        (EXPIRING, {"from": f}),  # a variable missing
        (EXPIRING, {"from": f, "to": t, "extra": [1] * 5000}),  # a list past the limit
    ]
    found += [(q % ids, None) for q in NOT_PLANNED + ERRORS]
    return found


async def test_every_document_answers_the_same_compiled_and_plain_as_every_role(
    pair: Pair,
) -> None:
    for role, token in roles(pair).items():
        for i, (query, variables) in enumerate(documents(pair.ids)):
            before = pair.app.state.graphql.compiled.answered
            status, _, after = await pair.ask(query, variables, token)
            # A token the gateway cannot accept refuses the whole request (attack8), alike.
            refused = role in ("participant of no organisation", "bad token")
            assert status == (401 if refused else 200), role
            if role == "coordinator":
                # the second asking at least is the plan's (the first, once it is kept)
                assert (after > before) == (i < PLANNED), (query, variables)


PLANNED = 30  # the first documents, answered by plans when a coordinator asks


async def test_the_bench_queries_are_answered_by_their_plans(pair: Pair) -> None:
    token = roles(pair)["coordinator"]
    asked = documents(pair.ids)
    read = pair.gateway.read
    assert read is not None
    for query, variables in [*asked[:3], asked[4]]:
        await pair.ask(query, variables, token)  # kept
        before = pair.app.state.graphql.compiled.answered
        driven = read.driven_statements
        _, raw, after = await pair.ask(query, variables, token)
        assert "errors" not in json.loads(raw)
        assert after == before + 2  # both askings
        # their statements ran on the driver's cursor (DriverForm), the answers unchanged
        assert read.driven_statements > driven


async def test_what_a_plan_does_not_cover_runs_the_ordinary_way(pair: Pair) -> None:
    token = roles(pair)["coordinator"]
    for query in NOT_PLANNED + ERRORS:
        before = pair.app.state.graphql.compiled.answered
        _, _, after = await pair.ask(query % pair.ids, None, token)
        assert after == before, query


async def test_a_forbidden_list_falls_back_to_the_ordinary_error(pair: Pair) -> None:
    status, raw, _ = await pair.ask(FRAMEWORK, {"id": pair.ids["framework"]}, None)
    answer = json.loads(raw)
    assert status == 200
    assert answer["data"]["contract"]["participants"] is None
    assert {e["extensions"]["code"] for e in answer["errors"]} == {"FORBIDDEN"}


async def test_read_your_writes_waits_are_kept(pair: Pair) -> None:
    """The consistency token, as an argument or a header: reached (the plan answers after
    the wait) or malformed (the ordinary error), alike on both paths."""
    token = roles(pair)["coordinator"]
    registry = CONTEXTS["registry"]
    assert isinstance(pair.gateway.source, InMemoryEventStore)
    kept = f"{registry.stream}:{await pair.gateway.source.last_seq(registry)}"
    variables = {"id": pair.ids["framework"]}
    with_argument = FRAMEWORK.replace(
        "contract(contractId: $id)", "contract(contractId: $id, consistencyToken: $t)"
    ).replace("query Framework($id: String!)", "query Framework($id: String!, $t: String)")
    await pair.ask(with_argument, {**variables, "t": kept}, token)  # kept
    before = pair.app.state.graphql.compiled.answered
    _, raw, after = await pair.ask(with_argument, {**variables, "t": kept}, token)
    assert "errors" not in json.loads(raw)
    assert after == before + 2
    _, raw, _ = await pair.ask(FRAMEWORK, variables, token, {"x-consistency-token": kept})
    assert "errors" not in json.loads(raw)
    for bad in ("nonsense", "REGISTRY:x"):
        before = pair.app.state.graphql.compiled.answered
        _, raw, after = await pair.ask(with_argument, {**variables, "t": bad}, token)
        assert json.loads(raw)["errors"]
        assert after == before
        _, raw, _ = await pair.ask(FRAMEWORK, variables, token, {"x-consistency-token": bad})
        assert json.loads(raw)["errors"]
