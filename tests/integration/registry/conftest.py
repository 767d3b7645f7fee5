"""One NATS server per test module and a running registry service per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from nats.aio.client import Client as NATS

from eventstore.clock import FixedClock
from eventstore.store import EventStore
from eventstore.testing.fixtures import connect
from eventstore.testing.nats_server import NatsServer
from tests.integration.registry.harness import RECORDED_AT, Coordinator, running_registry


@pytest.fixture(scope="module")
def shared_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path_factory.mktemp("registry") / "jetstream").start()
    yield server
    server.stop()


@pytest.fixture
async def client(shared_nats: NatsServer) -> AsyncIterator[NATS]:
    nc = await connect(shared_nats.url)
    yield nc
    await nc.close()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(RECORDED_AT)


@pytest.fixture
def store(client: NATS, clock: FixedClock) -> EventStore:
    return EventStore(client, clock)


@pytest.fixture
async def coordinator(
    shared_nats: NatsServer, client: NATS, clock: FixedClock
) -> AsyncIterator[Coordinator]:
    async with running_registry(shared_nats.url, clock):
        yield Coordinator(client)
