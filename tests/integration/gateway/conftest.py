from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from nats.aio.client import Client as NATS

from bootstrap.system import System
from eventstore.store import EventStore
from tests.integration.gateway.harness import Gateway, settings, start_gateway


@pytest.fixture
async def gateway(
    nats_client: NATS, event_store: EventStore, sqlite_url: str
) -> AsyncIterator[Gateway]:
    g = await start_gateway(nats_client, event_store, sqlite_url)
    yield g
    await g.stop()


@pytest.fixture
async def system(nats_client: NATS, tmp_path: Path, database_url: str) -> AsyncIterator[System]:
    """The whole system in-process (services + gateway) on the given read-model database."""
    running = await System(
        nats_client, tmp_path, settings(database_url=database_url), with_notifier=False
    ).start()
    yield running
    await running.stop()


@pytest.fixture
async def client(system: System) -> AsyncIterator[httpx.AsyncClient]:
    assert system.app is not None
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=system.app), base_url="http://gateway.test"
    ) as c:
        yield c
