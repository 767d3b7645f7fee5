"""correct22: a refused argument is repeated back cut short, as the mutations cut it.

`organisations(province: <100,000 characters>)` answered a refusal that repeated the whole
value (a 100 kB error for a 100 kB argument: the refusal as large as the attack, and in the
gateway's log line too); so did `entitiesAsOf(aggregateType:)`, a list's `after` cursor, the
law findings' cursor, a consistency token (argument or header), an unknown event type of the event log's filter, a date or an instant
that does not parse, and the live field's `after`. Each still names the argument and shows the
value's first 80 characters (`contracts_schema.errors.shown`, as the mutations cut it) with its length, and the short refusals
read as before. Through the gateway's HTTP interface, in memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from eventstore.clock import FixedClock
from eventstore.memory import InMemoryEventStore
from gateway.app import build_app
from gateway.history.sources import audit_sources
from tests.integration.gateway.harness import Gateway
from tests.service.gateways import gateway_of_every_service

LONG = "Z" * 100_000
SHOWN = "Z" * 80  # what is repeated back
LENGTH = "100,000 characters"

# (name, query taking $v, who asks); each refuses $v = LONG.
ASKED = [
    ("province", "query($v: String) { organisations(province: $v) { totalCount } }", None),
    (
        "aggregate-type",
        "query($v: String!) { entitiesAsOf(aggregateType: $v) { aggregateId } }",
        "auditor",
    ),
    ("cursor", "query($v: String) { tenders(after: $v) { totalCount } }", None),
    ("law-cursor", "query($v: String) { lawFindings(after: $v) { totalCount } }", None),
    (
        "event-type",
        "query($v: [String!]) { events(filter: {eventTypes: $v}) { totalCount } }",
        "auditor",
    ),
    ("as-of", "query($v: Date) { tenders(asOf: $v) { totalCount } }", None),
    ("known-at", "query($v: DateTime) { tenders(knownAt: $v) { totalCount } }", None),
    ("token", "query($v: String) { tenders(consistencyToken: $v) { totalCount } }", None),
]


@pytest.fixture
async def gateway(
    store: InMemoryEventStore, clock: FixedClock, tmp_path: Path
) -> AsyncIterator[Gateway]:
    async with gateway_of_every_service(store, clock, tmp_path, demo=True) as g:
        assert g.read is not None
        assert g.client is not None
        await g.client.aclose()
        app = build_app(g.read, g.settings, audit=audit_sources(store, g.engine))  # type: ignore[arg-type]
        g.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
        )
        yield g


async def _errors(g: Gateway, query: str, value: Any, who: str | None) -> list[dict[str, Any]]:
    body = await g.query(query, {"v": value}, token=g.token(who) if who else None)
    errors: list[dict[str, Any]] = body.get("errors") or []
    return errors


@pytest.mark.parametrize(("name", "query", "who"), ASKED, ids=[a[0] for a in ASKED])
async def test_a_long_refused_value_is_repeated_cut_short(
    gateway: Gateway, name: str, query: str, who: str | None
) -> None:
    value: Any = [LONG] if name == "event-type" else LONG
    [error] = await _errors(gateway, query, value, who)
    message = error["message"]
    assert len(message) < 2_000, (name, len(message))  # before: over 100,000
    assert SHOWN in message, (name, message)
    assert LENGTH in message, (name, message)


@pytest.mark.parametrize("token", [LONG, f"REGISTRY:1,{LONG}:2", f"REGISTRY:{LONG}"])
async def test_a_long_consistency_token_header_is_repeated_cut_short(
    gateway: Gateway, token: str
) -> None:
    body = await gateway.query("{ tenders { totalCount } }", headers={"X-Consistency-Token": token})
    [error] = body["errors"]
    assert error["extensions"]["code"] == "INVALID_CONSISTENCY_TOKEN", body
    assert len(error["message"]) < 2_000, len(error["message"])  # before: over 100,000
    assert token[:80] in error["message"], error["message"]


async def test_a_short_refused_value_is_repeated_whole(gateway: Gateway) -> None:
    [error] = await _errors(gateway, ASKED[0][1], "Noord Holland", None)
    assert error["extensions"]["code"] == "INVALID_ARGUMENT"
    assert error["message"].startswith("`province`: 'Noord Holland' is not a province;")
    [error] = await _errors(gateway, ASKED[1][1], "tendr", "auditor")
    assert error["extensions"]["code"] == "INVALID_ARGUMENT"
    assert error["message"].startswith("unknown aggregate type 'tendr'; one of [")
