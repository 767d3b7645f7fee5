"""A live handler that fails part-way through a batch (after applying part of it):
re-armed from the owner's position, nothing lost, nothing applied twice, order kept (fresh13; from review16)."""

from __future__ import annotations

import asyncio

from nats.aio.client import Client as NATS

from eventstore.clock import FixedClock
from eventstore.store import EventStore, StoredEvent
from tests.integration.test_live_pull import consumer_when, live
from tests.support.ledger import LEDGER
from tests.support.subscribers import append_one, wait_for


async def test_a_handler_failing_mid_batch(nats_client: NATS, fixed_clock: FixedClock) -> None:
    store = EventStore(nats_client, fixed_clock)
    await store.ensure_stream(LEDGER)
    seen: list[int] = []
    failed: list[int] = []
    gate = asyncio.Event()

    async def handler(events: list[StoredEvent]) -> None:
        for e in events:
            if e.seq == 2:
                await gate.wait()  # hold: 3..8 gather in the buffer, one batch
            if e.seq == 5 and not failed:
                failed.append(e.seq)
                raise RuntimeError("fails after applying part of its batch")
            seen.append(e.seq)  # applied and committed, one by one

    subscriber = live(nats_client, "fail-live", handler, seen, batch=10)
    subscriber.start()
    try:
        for n in range(2):
            await append_one(store, n)
        for n in range(2, 8):
            await append_one(store, n)
        await asyncio.sleep(0.5)  # (3..8 most likely in one batch; the claim holds either way)
        gate.set()
        await wait_for(lambda: len(seen) >= 8, timeout=30)
        await asyncio.sleep(1)
        assert seen == list(range(1, 9)), seen
        assert failed == [5]
        info = await consumer_when(nats_client, "fail-live", lambda i: i.num_ack_pending == 0)
        assert info.num_ack_pending == 0
    finally:
        gate.set()
        await subscriber.stop()
