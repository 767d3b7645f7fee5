"""correct23: an `X-Consistency-Token` header sent twice waits for both tokens.

Before: the gateway read the first header alone and dropped the others without a word. A
client (or a proxy adding its own) that sent two -- the second naming a write the first does
not cover -- got an answer at once, from read models that need not hold that write: a silent
stale read, where one header holding both positions (`A:1,B:2`) waits for each.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from contracts_schema.subjects import REGISTRY
from eventstore.clock import FixedClock
from eventstore.memory import InMemoryEventStore
from tests.integration.gateway.harness import Gateway, start_memory_gateway
from tests.service.gateways import gateway_of_every_service

PROBE = '{ tender(tenderId: "gt-mc1") { title } }'


@pytest.fixture
async def quick(
    store: InMemoryEventStore, clock: FixedClock, tmp_path: Path
) -> AsyncIterator[Gateway]:
    async with gateway_of_every_service(store, clock, tmp_path, demo=True) as loaded:
        await loaded.stop()  # its read models are filled: serve them again, impatient
        g = await start_memory_gateway(
            store, f"sqlite:///{tmp_path / 'rm.db'}", consistency_timeout=0.3
        )
        try:
            yield g
        finally:
            await g.stop()


async def _ask(g: Gateway, *tokens: str) -> dict[str, Any]:
    assert g.client is not None
    headers = [("Authorization", f"Bearer {g.token('coordinator')}")]
    headers += [("X-Consistency-Token", token) for token in tokens]
    response = await g.client.post("/graphql", json={"query": PROBE}, headers=headers)
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize("unreached_first", [False, True])
async def test_every_header_is_waited_for(
    quick: Gateway, store: InMemoryEventStore, unreached_first: bool
) -> None:
    last = await store.last_seq(REGISTRY)
    tokens = [f"REGISTRY:{last}", "REGISTRY:999999"]
    if unreached_first:
        tokens.reverse()
    body = await _ask(quick, *tokens)
    errors = body.get("errors") or []
    assert [e["extensions"]["code"] for e in errors] == ["CONSISTENCY_TIMEOUT"], body
    assert "the token asks for 999,999" in errors[0]["message"], body


async def test_headers_that_are_reached_answer(quick: Gateway, store: InMemoryEventStore) -> None:
    last = await store.last_seq(REGISTRY)
    body = await _ask(quick, f"REGISTRY:{last}", "REGISTRY:1")
    assert body == {"data": {"tender": {"title": "GT Mobiele Communicatie 1"}}}, body


async def test_one_header_is_as_before(quick: Gateway, store: InMemoryEventStore) -> None:
    last = await store.last_seq(REGISTRY)
    assert (await _ask(quick, f"REGISTRY:{last}"))["data"] is not None
    body = await _ask(quick, "REGISTRY:999999")
    assert [e["extensions"]["code"] for e in body["errors"]] == ["CONSISTENCY_TIMEOUT"], body


@pytest.mark.parametrize("second", ["REGISTY:2", "REGISTRY:x"])
async def test_a_bad_second_header_is_refused(
    quick: Gateway, store: InMemoryEventStore, second: str
) -> None:
    body = await _ask(quick, "REGISTRY:1", second)
    errors = body.get("errors") or []
    assert [e["extensions"]["code"] for e in errors] == ["INVALID_CONSISTENCY_TOKEN"], body
    assert second.split(":")[0 if "REGISTY" in second else 1] in errors[0]["message"], body
