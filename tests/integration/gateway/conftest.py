from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from nats.aio.client import Client as NATS

from bootstrap.system import System
from eventstore.store import EventStore
from gateway.serve import Server
from tests.integration.gateway.harness import Gateway, start_gateway


@pytest.fixture
async def gateway(
    nats_client: NATS, event_store: EventStore, sqlite_url: str
) -> AsyncIterator[Gateway]:
    g = await start_gateway(nats_client, event_store, sqlite_url)
    yield g
    await g.stop()


@pytest.fixture
async def server(system: System) -> AsyncIterator[Server]:
    """The system's gateway served on a socket (the live subscriptions' websocket)."""
    assert system.app is not None
    running = await Server(system.app).start()
    yield running
    await running.stop()
