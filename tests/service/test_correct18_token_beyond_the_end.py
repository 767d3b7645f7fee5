"""correct18: a consistency token beyond its stream's last event says so when it times out.

Before: `REGISTRY:999999` on a registry of a few events waited its timeout and answered
CONSISTENCY_TIMEOUT "retry the query with the same token", as for a slow read model: a client
would retry a token that can never be reached (another system's, or kept from before a reset).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from contracts_schema.subjects import REGISTRY
from eventstore.clock import FixedClock
from eventstore.memory import InMemoryEventStore
from gateway.token_beyond import beyond_the_end
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


async def _refusal(g: Gateway, token: str) -> dict[str, object]:
    body = await g.query(
        PROBE, token=g.token("coordinator"), headers={"X-Consistency-Token": token}
    )
    errors = body.get("errors") or []
    assert len(errors) == 1, body
    assert errors[0]["extensions"]["code"] == "CONSISTENCY_TIMEOUT", body
    return errors[0]  # type: ignore[no-any-return]


async def test_a_token_beyond_the_stream_names_its_end(
    quick: Gateway, store: InMemoryEventStore
) -> None:
    last = await store.last_seq(REGISTRY)
    assert 0 < last < 999_999
    message = str((await _refusal(quick, "REGISTRY:999999"))["message"])
    assert f"REGISTRY's last event is {last:,}, the token asks for 999,999" in message
    assert "retry the query with the same token" not in message


class _Heads:
    async def stream_heads(self) -> dict[str, int]:
        return {"REGISTRY": 40, "ENROLMENT": 7}


async def test_only_streams_the_token_passes_are_named() -> None:
    # A token within every stream's end (a read model merely slow) adds nothing: the
    # timeout's "retry the query with the same token" stands.
    runners = [_Heads()]
    assert await beyond_the_end(runners, {"REGISTRY": 40, "ENROLMENT": 3}) == ""  # type: ignore[arg-type]
    said = await beyond_the_end(runners, {"REGISTRY": 41, "ENROLMENT": 3})  # type: ignore[arg-type]
    assert said.startswith("; REGISTRY's last event is 40, the token asks for 41")
    assert "ENROLMENT" not in said
