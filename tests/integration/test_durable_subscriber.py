"""A durable subscriber keeps receiving after the NATS server restarts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from nats.aio.client import Client as NATS

from eventstore.clock import FixedClock
from eventstore.store import CommandMetadata, EventStore, NewEvent, StoredEvent
from eventstore.subscription import DurableSubscriber
from eventstore.testing.nats_server import NatsServer, wait_jetstream_ready
from tests.support.ledger import LEDGER


async def append_one(store: EventStore, n: int) -> None:
    history = await store.load(LEDGER, "ledger", "d")
    event = NewEvent("EntryRecorded", 1, {"amount": n}, datetime(2020, 1, 1, tzinfo=UTC))
    await store.append(history, [event], CommandMetadata(f"c{n}", "test", f"c{n}"))


async def wait_for(predicate: object, timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.05)


async def test_durable_subscriber_survives_server_restart(
    nats_server: NatsServer, nats_client: NATS, fixed_clock: FixedClock
) -> None:
    store = EventStore(nats_client, fixed_clock)
    await store.ensure_stream(LEDGER)
    received: list[int] = []

    async def handler(events: list[StoredEvent]) -> None:
        received.extend(e.envelope.payload["amount"] for e in events)

    subscriber = DurableSubscriber(nats_client, LEDGER, "restart-test", handler, batch=10)
    subscriber.start()
    try:
        for n in range(3):
            await append_one(store, n)
        await wait_for(lambda: len(received) == 3)

        nats_server.restart()
        await wait_jetstream_ready(nats_client, LEDGER.stream)
        for n in range(3, 6):
            await append_one(store, n)
        await wait_for(lambda: len(received) >= 6)
        assert received == [0, 1, 2, 3, 4, 5]
    finally:
        await subscriber.stop()
