"""Issue 15, gateway side, through the public GraphQL/HTTP interface on the in-memory store.

Each test names the finding it covers; each failed on main before the fix.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from eventstore.clock import FixedClock
from eventstore.memory import InMemoryEventStore
from gateway.policy import PUBLIC_COMMANDS
from tests.integration.gateway.harness import SECRET, Gateway
from tests.service.gateways import gateway_of_every_service

PROBE = '{ tender(tenderId: "gt-mc1") { title } }'


@pytest.fixture
async def gateway(
    store: InMemoryEventStore, clock: FixedClock, tmp_path: Path
) -> AsyncIterator[Gateway]:
    async with gateway_of_every_service(store, clock, tmp_path, demo=True) as g:
        yield g


def codes(body: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


def messages(body: dict[str, Any]) -> str:
    return " | ".join(e["message"] for e in body.get("errors", []))


async def post(g: Gateway, content: bytes, token: str | None = None) -> Any:
    assert g.client is not None
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return await g.client.post("/graphql", content=content, headers=headers)


# --- findings 1 and 3: the cost of a document, bounded before it blocks anything ------------


async def test_f1_a_selection_repeated_hundreds_of_times_is_refused_before_validation(
    gateway: Gateway,
) -> None:
    repeated = " ".join("contracts { nodes { contractId } }" for _ in range(250))
    body = await gateway.query(f"query U1 {{ {repeated} }}", token=gateway.token("coordinator"))
    assert codes(body) == ["QUERY_TOO_COMPLEX"], body
    assert "`contracts` is selected more than 8 times" in messages(body)


async def test_f1_selections_are_counted_after_fragment_expansion(gateway: Gateway) -> None:
    # Each fragment doubles the one before: 2^20 selections from a 1 KB document.
    bomb = "fragment X0 on Contract { contractId }" + "".join(
        f" fragment X{i} on Contract {{ ...X{i - 1} ...X{i - 1} }}" for i in range(1, 21)
    )
    body = await gateway.query(
        f"query Bomb {{ contracts {{ nodes {{ ...X20 }} }} }} {bomb}",
        token=gateway.token("coordinator"),
    )
    assert codes(body) == ["QUERY_TOO_COMPLEX"]


async def test_f1_lists_are_weighed_by_first_and_anonymous_limits_are_the_strictest(
    gateway: Gateway,
) -> None:
    fields = " ".join(f"f{i}: title" for i in range(14))
    lists = "lots { lotId title status } contracts { contractId }"
    query = f"{{ tenders(first: 100) {{ nodes {{ {fields} {lists} }} }} }}"  # cost 5701
    anonymous = await gateway.query(query)
    assert codes(anonymous) == ["QUERY_TOO_COMPLEX"]
    assert "limit for anonymous clients" in messages(anonymous)
    assert "`first`" in messages(anonymous)
    small_page = await gateway.query(query.replace("first: 100", "first: 2"))
    assert "errors" not in small_page, small_page
    signed_in = await gateway.query(query, token=gateway.token("coordinator"))
    assert "errors" not in signed_in, signed_in


async def test_f3_comments_count_toward_the_query_size(gateway: Gateway) -> None:
    commented = "# " + "x" * 6000 + "\n" + PROBE
    anonymous = await gateway.query(commented)
    assert codes(anonymous) == ["QUERY_TOO_LARGE"]
    assert "anonymous clients may send at most 4096" in messages(anonymous)
    assert "errors" not in await gateway.query(commented, token=gateway.token("coordinator"))


async def test_f3_a_body_over_the_limit_is_413_before_it_is_decoded(gateway: Gateway) -> None:
    ten_megabytes = json.dumps({"query": "# " + "x" * 10_000_000 + "\n" + PROBE}).encode()
    response = await post(gateway, ten_megabytes)
    assert response.status_code == 413
    assert "exceeds 262144 bytes" in response.text


# --- finding 6: participants see only their own enrolments ----------------------------------


async def test_f6_a_participant_sees_only_its_own_enrolments_on_every_path(
    gateway: Gateway,
) -> None:
    amsterdam = gateway.token("participant", "GM0363")
    tender = await gateway.query(
        '{ tender(tenderId: "gt-mc1") { participants { organisationCode status } } }',
        token=amsterdam,
    )
    assert {p["organisationCode"] for p in tender["data"]["tender"]["participants"]} == {"GM0363"}
    contract = await gateway.query(
        '{ contract(contractId: "gt-mc1-framework") { participants { organisationCode } } }',
        token=amsterdam,
    )
    assert contract["data"]["contract"]["participants"] == [{"organisationCode": "GM0363"}]
    other = base64.b64encode(b"Participant:gt-mc1/GM0518").decode()
    node = await gateway.query(
        f'{{ node(id: "{other}") {{ ... on Participant {{ status }} }} }}', token=amsterdam
    )
    assert node["data"]["node"] is None
    by_buyer = await gateway.query(
        '{ contracts(filter: {buyer: "GM0518"}) { totalCount } }', token=amsterdam
    )
    assert by_buyer["data"]["contracts"]["totalCount"] == 0
    coordinator = await gateway.query(
        '{ tender(tenderId: "gt-mc1") { participants { organisationCode } } }',
        token=gateway.token("coordinator"),
    )
    assert len(coordinator["data"]["tender"]["participants"]) > 1


# --- finding 7: webhooks --------------------------------------------------------------------

SUBSCRIBE = """mutation($i: SubscribeWebhookInput!) { subscribeWebhook(input: $i) {
  __typename ... on CommandSucceeded { commandId }
  ... on InvalidInput { message } ... on DomainError { code message }
  ... on PermissionDenied { message } } }"""
UNSUBSCRIBE = """mutation($i: UnsubscribeWebhookInput!) { unsubscribeWebhook(input: $i) {
  __typename ... on DomainError { code message } ... on PermissionDenied { message } } }"""
REPLAY = """mutation($i: ReplayWebhookDeliveriesInput!) { replayWebhookDeliveries(input: $i) {
  __typename ... on DomainError { code message } } }"""


def subscription(sid: str, org: str, url: str) -> dict[str, Any]:
    return {"i": {"subscriptionId": sid, "organisationCode": org, "url": url}}


async def test_f7_webhooks_go_to_public_https_and_each_organisation_manages_its_own(
    gateway: Gateway,
) -> None:
    amsterdam = gateway.token("participant", "GM0363")
    hague = gateway.token("participant", "GM0518")
    for url in ("http://127.0.0.1:8222/varz", "https://10.0.0.1/hook", "https://localhost/x"):
        body = await gateway.query(SUBSCRIBE, subscription("s-bad", "GM0363", url), token=amsterdam)
        assert body["data"]["subscribeWebhook"]["__typename"] == "InvalidInput", url
    ok = await gateway.query(
        SUBSCRIBE, subscription("s-1", "GM0363", "https://hooks.example.nl/gt"), token=amsterdam
    )
    assert ok["data"]["subscribeWebhook"]["__typename"] == "CommandSucceeded", ok
    taken = await gateway.query(
        SUBSCRIBE, subscription("s-1", "GM0518", "https://hooks.example.org/gt"), token=hague
    )
    assert taken["data"]["subscribeWebhook"]["code"] == "SUBSCRIPTION_EXISTS"
    assert "GM0363" not in taken["data"]["subscribeWebhook"]["message"]
    # Another organisation's subscription is unknown to it; the owner replays and ends its own.
    foreign = await gateway.query(
        UNSUBSCRIBE, {"i": {"subscriptionId": "s-1", "organisationCode": "GM0518"}}, token=hague
    )
    assert foreign["data"]["unsubscribeWebhook"]["code"] == "SUBSCRIPTION_UNKNOWN"
    replay = await gateway.query(
        REPLAY,
        {"i": {"subscriptionId": "s-1", "organisationCode": "GM0363", "fromSeq": 1}},
        token=amsterdam,
    )
    assert replay["data"]["replayWebhookDeliveries"]["__typename"] == "CommandSucceeded"
    own = await gateway.query(
        UNSUBSCRIBE, {"i": {"subscriptionId": "s-1", "organisationCode": "GM0363"}}, token=amsterdam
    )
    assert own["data"]["unsubscribeWebhook"]["__typename"] == "CommandSucceeded", own


# --- the command table ------------------------------------------------------------------------


async def test_internal_commands_are_no_mutations_and_the_table_decides_who_sends(
    gateway: Gateway,
) -> None:
    body = await gateway.query(
        "mutation { raiseExpiryWarning(input: {}) { __typename } }",
        token=gateway.token("coordinator"),
    )
    assert "Cannot query field 'raiseExpiryWarning' on type 'Mutation'" in messages(body)
    assert "RaiseExpiryWarning" not in {p.model.command_type for p in PUBLIC_COMMANDS}
    rename = await gateway.query(
        """mutation { renameOrganisation(input: {code: "GM0363", name: "X"}) {
          __typename ... on PermissionDenied { message } } }""",
        token=gateway.token("participant", "GM0363"),
    )
    assert rename["data"]["renameOrganisation"]["__typename"] == "PermissionDenied"


# --- the Lows ------------------------------------------------------------------------------


async def test_low_malformed_bodies_are_400_naming_the_problem(gateway: Gateway) -> None:
    invalid_utf8 = await post(gateway, b'{"query": "\xff\xfe"}')
    assert invalid_utf8.status_code == 400
    assert "not valid UTF-8" in invalid_utf8.text
    deep = await post(gateway, b"[" * 100_000 + b"]" * 100_000)
    assert deep.status_code == 400
    assert "nests deeper than" in deep.text
    surrogate = await post(gateway, json.dumps({"query": "{ a }", "x": "\ud800"}).encode())
    assert surrogate.status_code == 400
    assert "lone surrogate" in surrogate.text


async def test_low_client_mistakes_get_specific_errors(gateway: Gateway) -> None:
    coordinator = gateway.token("coordinator")
    unknown = base64.b64encode(b"Nonsense:1").decode()
    node = await gateway.query(f'{{ node(id: "{unknown}") {{ id }} }}', token=coordinator)
    assert "Unexpected error" not in messages(node), node
    over_post = await gateway.query("subscription { events { eventType } }", token=coordinator)
    assert "Unexpected error" not in messages(over_post), over_post
    values = {"f": {"kind": ["FRAMEWORK"] * 3000}}
    many = await gateway.query(
        "query($f: ContractFilter) { contracts(filter: $f) { totalCount } }",
        values,
        token=coordinator,
    )
    assert codes(many) == ["LIST_TOO_LONG"], many
    two = await gateway.query("{ __typename } { __typename }")
    assert "anonymous operation must be the only defined operation" in messages(two), two


async def test_low_parked_events_are_for_coordinators_and_bounded(gateway: Gateway) -> None:
    participant = await gateway.query(
        "{ health { parked { eventId } } }", token=gateway.token("participant", "GM0363")
    )
    assert codes(participant) == ["FORBIDDEN"]
    unbounded = await gateway.query(
        "{ health { parked(first: -1) { eventId } } }", token=gateway.token("coordinator")
    )
    assert codes(unbounded) == ["INVALID_ARGUMENT"]


def forged(claims: dict[str, Any]) -> str:
    base = {"sub": "x", "role": "participant", "aud": "gt-registry", "exp": time.time() + 600}
    return jwt.encode({**base, **claims}, SECRET, algorithm="HS256")


async def test_low_token_claims_are_exact(gateway: Gateway) -> None:
    query = '{ organisation(code: "GM0363") { participations { tenderId } } }'
    newline = await gateway.query(query, token=forged({"org": "GM0363\n"}))
    assert codes(newline) == ["UNAUTHENTICATED"]
    string_exp = await gateway.query(query, token=forged({"org": "GM0363", "exp": "9999999999"}))
    assert codes(string_exp) == ["UNAUTHENTICATED"]
    assert "`exp` must be a number" in messages(string_exp)


async def test_low_production_defaults_hide_the_schema(gateway: Gateway) -> None:
    introspection = await gateway.query("{ __schema { queryType { name } } }")
    assert "introspection has been disabled" in messages(introspection)
    typo = await gateway.query('{ tendr(tenderId: "gt-mc1") { title } }')
    assert "Did you mean" not in messages(typo)
    assert gateway.client is not None
    ide = await gateway.client.get("/graphql", headers={"Accept": "text/html"})
    assert "graphiql" not in ide.text.lower()


# --- finding 9: a corrupt read model is reported, not hidden --------------------------------


async def test_f9_a_corrupt_read_model_page_makes_health_not_ok_with_a_reason(
    gateway: Gateway, tmp_path: Path
) -> None:
    coordinator = gateway.token("coordinator")
    healthy = await gateway.query("{ health { ok problems } }", token=coordinator)
    assert healthy["data"]["health"] == {"ok": True, "problems": []}
    assert gateway.read is not None
    gateway.read.integrity_check.forget()  # the answer is kept a minute; this test cannot wait
    db = tmp_path / "rm.db"
    with sqlite3.connect(db) as conn:  # everything into the main file, then break it
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = db.stat().st_size
    with db.open("r+b") as f:  # every page but the header's: b-tree pages among them
        f.seek(4096)
        f.write(b"\xde\xad" * ((size - 4096) // 2))
    broken = await gateway.query("{ health { ok problems } }", token=coordinator)
    assert broken["data"]["health"]["ok"] is False
    assert "corrupt" in broken["data"]["health"]["problems"][0]
