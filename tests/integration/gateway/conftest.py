from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from nats.aio.client import Client as NATS

from eventstore.store import EventStore
from tests.integration.gateway.harness import Gateway, start_gateway


@pytest.fixture
async def gateway(
    nats_client: NATS, event_store: EventStore, sqlite_url: str
) -> AsyncIterator[Gateway]:
    g = await start_gateway(nats_client, event_store, sqlite_url)
    yield g
    await g.stop()
