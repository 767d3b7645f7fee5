"""The registry service, served in this process on the test's JetStream: what `audit ocds
import` sends its commands to."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from nats.aio.client import Client as NATS

from bootstrap.parts import registry_service
from eventstore.clock import SystemClock
from eventstore.service_app import CommandServer, serve_in_process, server_url
from eventstore.store import EventStore


@pytest.fixture
async def registry(nats_client: NATS) -> AsyncIterator[CommandServer]:
    clock = SystemClock()
    server = await serve_in_process(
        server_url(nats_client), [registry_service(EventStore(nats_client, clock), clock)]
    )
    yield server
    await server.stop()
