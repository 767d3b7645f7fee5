"""What the durable subscriber's and the live delivery's tests share: the ledger stream's
appends, a poll, and the two scenarios both deliveries must survive (a server restart, a
deleted message). Each test keeps its own subscriber and its own assertions."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from nats.aio.client import Client as NATS

from eventstore.clock import FixedClock
from eventstore.store import CommandMetadata, EventStore, NewEvent
from eventstore.testing.nats_server import NatsServer, wait_jetstream_ready
from tests.support.ledger import LEDGER


class Subscriber(Protocol):
    def start(self) -> object: ...

    async def stop(self) -> None: ...


async def append_one(store: EventStore, n: int) -> None:
    """Entry `n` on ledger "d" (its next version)."""
    history = await store.load(LEDGER, "ledger", "d")
    event = NewEvent("EntryRecorded", 1, {"amount": n}, datetime(2020, 1, 1, tzinfo=UTC))
    await store.append(history, [event], CommandMetadata(f"c{n}", "test", f"c{n}"))


async def wait_for(predicate: Callable[[], bool], timeout: float = 120.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.05)


async def ledger_store(nc: NATS, clock: FixedClock, *, protect: bool = True) -> EventStore:
    store = EventStore(nc, clock, protect=protect)
    await store.ensure_stream(LEDGER)
    return store


async def with_one_deleted(nc: NATS, clock: FixedClock) -> EventStore:
    """The ledger stream holding seqs 1 and 3: 2 was deleted (a store that allows it; event
    streams deny deletes)."""
    store = await ledger_store(nc, clock, protect=False)
    for n in (1, 2, 3):
        await append_one(store, n)
    await nc.jetstream().delete_msg(LEDGER.stream, 2)
    return store


async def across_a_restart(
    server: NatsServer, nc: NATS, store: EventStore, subscriber: Subscriber, got: list[int]
) -> None:
    """Three entries delivered, the server restarted, three more appended and delivered
    (`got` grows to six); the subscriber is stopped whatever happens."""
    subscriber.start()
    try:
        for n in range(3):
            await append_one(store, n)
        await wait_for(lambda: len(got) == 3)

        server.restart()
        await wait_jetstream_ready(nc, LEDGER.stream)
        for n in range(3, 6):
            await append_one(store, n)
        await wait_for(lambda: len(got) >= 6)
    finally:
        await subscriber.stop()
