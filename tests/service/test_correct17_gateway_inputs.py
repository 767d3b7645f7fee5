"""correct17: bad input at the gateway's HTTP surface gets a clear, specific answer.

Through the public GraphQL/HTTP interface on the in-memory store; each failed before its fix.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from eventstore.clock import FixedClock
from eventstore.memory import InMemoryEventStore
from tests.integration.gateway.harness import Gateway
from tests.service.gateways import gateway_of_every_service

PROBE = '{ tender(tenderId: "gt-mc1") { title } }'


@pytest.fixture
async def gateway(
    store: InMemoryEventStore, clock: FixedClock, tmp_path: Path
) -> AsyncIterator[Gateway]:
    async with gateway_of_every_service(store, clock, tmp_path, demo=True) as g:
        yield g


async def post(g: Gateway, content: bytes) -> Any:
    assert g.client is not None
    headers = {"Content-Type": "application/json"}
    return await g.client.post("/graphql", content=content, headers=headers)


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b"not json", "line 1 column 1"),
        (b'{"query": "{ __typename }"', "line 1 column 27"),
        (b"", "line 1 column 1"),
    ],
)
async def test_a_body_that_is_not_json_is_a_400_saying_where(
    gateway: Gateway, body: bytes, said: str
) -> None:
    # Before: the compiled path's decode let json's error escape: 500 Internal Server Error.
    response = await post(gateway, body)
    assert response.status_code == 400, response.text
    assert "the request body is not JSON" in response.text
    assert said in response.text
    # The gateway still answers the next request.
    fine = await post(gateway, b'{"query": "{ __typename }"}')
    assert fine.status_code == 200
    assert fine.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize("token", ["REGISTY:3", "registry:3", "FOO:1", "ENROLMENT:2,REGISTER:1"])
async def test_a_consistency_token_naming_no_stream_of_the_registry_is_refused(
    gateway: Gateway, token: str
) -> None:
    # Before: a token naming an unknown stream parsed, and nothing waited for it: the read
    # was answered at once, possibly without the write the client meant (a typo, a token of
    # another system), with no word said.
    coordinator = gateway.token("coordinator")
    by_header = await gateway.query(
        PROBE, token=coordinator, headers={"X-Consistency-Token": token}
    )
    by_argument = await gateway.query(
        'query($t: String) { tender(tenderId: "gt-mc1", consistencyToken: $t) { title } }',
        {"t": token},
        token=coordinator,
    )
    for body in (by_header, by_argument):
        errors = body.get("errors") or []
        assert [e.get("extensions", {}).get("code") for e in errors] == [
            "INVALID_CONSISTENCY_TOKEN"
        ], body
        message = errors[0]["message"]
        assert "names no stream of this registry" in message
        assert "ENROLMENT, NOTIFIER, REGISTRY" in message


async def test_a_token_of_the_known_streams_still_reads(gateway: Gateway) -> None:
    coordinator = gateway.token("coordinator")
    body = await gateway.query(
        PROBE, token=coordinator, headers={"X-Consistency-Token": "REGISTRY:1,ENROLMENT:1"}
    )
    assert body == {"data": {"tender": {"title": "GT Mobiele Communicatie 1"}}}
