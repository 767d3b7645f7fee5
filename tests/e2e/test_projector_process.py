"""The embedded system as `make run` runs it: the gateway's projections in a child process.

The gateway only reads. Every write's reply carries a consistency token; a query with it answers
from read models that have applied the write: the gateway learns the projector's positions from
its announcements, never by polling. Every one of a burst of writes is visible to its token
(a probe whose write never showed was the freshness benchmark's failure). A projector that dies
is reported by the gateway's health.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bootstrap.embedded import embedded
from bootstrap.system import System
from gateway.serve import Server
from tests.support import embedded_graphql as graphql
from tests.support.embedded_graphql import HEALTH, REGISTER

BURST = 40
ORGANISATION = (
    "query($c: String!, $t: String) { organisation(code: $c, consistencyToken: $t) { name } }"
)


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[tuple[System, Server]]:
    async with embedded(tmp_path / "data", port=0) as (system, server):
        yield system, server


async def ask(
    http: httpx.AsyncClient, system: System, query: str, **variables: Any
) -> dict[str, Any]:
    return await graphql.ask(http, system, query, "e2e-projector", **variables)


async def test_every_write_of_a_burst_is_visible_to_its_token(
    running: tuple[System, Server],
) -> None:
    system, server = running
    assert system.projector is not None
    assert system.projector.pid != os.getpid()
    assert system.runners
    assert all(r.follow and not r.leading for r in system.runners)

    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:

        async def write_then_read(i: int) -> str | None:
            code, name = f"KVK-{90000000 + i}", f"Supplier {i}"
            reply = await ask(
                http,
                system,
                REGISTER,
                i={"commandId": f"burst-{i}", "code": code, "name": name, "kind": "SUPPLIER"},
            )
            result = reply["registerOrganisation"]
            assert result["__typename"] == "CommandSucceeded", result
            read = await ask(http, system, ORGANISATION, c=code, t=result["consistencyToken"])
            return (read["organisation"] or {}).get("name")

        names = await asyncio.gather(*(write_then_read(i) for i in range(BURST)))
    assert names == [f"Supplier {i}" for i in range(BURST)]
    # The gateway wrote nothing: the projector applied every event, the followers heard it.
    assert all(r.parked_count == 0 and r.problem is None for r in system.runners)


async def test_a_projector_that_exits_is_reported_by_health(
    running: tuple[System, Server],
) -> None:
    system, server = running
    assert system.projector is not None
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        assert (await ask(http, system, HEALTH))["health"] == {"ok": True, "problems": []}
        os.kill(system.projector.pid, signal.SIGKILL)
        assert await system.projector.exited() == -signal.SIGKILL
        health = (await ask(http, system, HEALTH))["health"]
    assert health["ok"] is False
    assert health["problems"] == [
        f"the projector process exited with code {-signal.SIGKILL}; the read models no longer"
        " advance"
    ]
