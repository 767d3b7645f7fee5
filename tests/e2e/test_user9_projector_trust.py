"""user9: `make run`'s projector processes trust the keys every other part trusts.

`make run` logged "readers do not check signatures (no trusted public keys)" twice: the
projector child processes (the gateway's read models, the audit's history) got no
GT_SIGNING_PUBLIC_KEYS, so an event no service signed, published by anyone holding a stream's
NATS login, was applied to the read models GraphQL answers from.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bootstrap.embedded import Served, embedded
from bootstrap.system import System
from contracts_schema.subjects import ENROLMENT
from eventstore.store import EventStore
from gateway.auth import Role, issue_token
from tests.integration.audit.test_readers_refuse_forgeries import REGISTER, unsigned
from tests.integration.deploy.test_nats_security import Client

pytestmark = pytest.mark.jetstream

EVENTS = "query($t: String) { events(first: 100, consistencyToken: $t) { nodes { actor } } }"
HEALTH = "{ health { ok parked(first: 50) { projection stream sequence error } } }"


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[tuple[System, Served]]:
    async with embedded(tmp_path / "data", port=0) as (system, server):
        yield system, server


async def gql(http: httpx.AsyncClient, system: System, query: str, **variables: Any) -> Any:
    token = issue_token(system.settings, Role.COORDINATOR, "user9")
    response = await http.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


async def command(http: httpx.AsyncClient, system: System, query: str, **fields: Any) -> str:
    [answer] = (await gql(http, system, query, i=fields)).values()
    assert answer["__typename"] == "CommandSucceeded", answer
    token: str = answer["consistencyToken"]
    return token


async def test_the_projector_process_parks_an_event_no_service_signed(
    running: tuple[System, Served], tmp_path: Path
) -> None:
    system, server = running
    assert system.projector is not None
    assert system.logins is not None
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        await command(
            http, system, REGISTER, commandId="u9-r", code="GM0001", name="Een", kind="MUNICIPALITY"
        )
        store = EventStore(system.nc, system.clock)
        [last] = [
            e async for e in store.read_stream(ENROLMENT) if e.envelope.aggregate_id == "GM0001"
        ]
        raw = await system.nc.jetstream().get_msg(ENROLMENT.stream, last.seq)
        assert raw.data is not None

        # Mallory holds the enrolment service's NATS login, not its signing key.
        mallory = await Client().connect(
            system.logins.url, "enrolment", system.logins.password("enrolment")
        )
        try:
            ack = await mallory.nc.jetstream().publish(
                last.subject, unsigned(last, raw.data, tmp_path), stream=ENROLMENT.stream
            )
        finally:
            await mallory.nc.close()

        # A later command's event is applied: the forged one before it was read by then.
        token = await command(
            http,
            system,
            REGISTER,
            commandId="u9-r2",
            code="GM0009",
            name="Negen",
            kind="MUNICIPALITY",
        )
        events = (await gql(http, system, EVENTS, t=token))["events"]["nodes"]
        assert "coordinator:mallory" not in {e["actor"] for e in events}
        health = (await gql(http, system, HEALTH))["health"]
        parked = {(r["projection"], r["stream"], r["sequence"]) for r in health["parked"]}
        assert ("event_log_v3", ENROLMENT.stream, ack.seq) in parked, health
        assert health["ok"] is False
