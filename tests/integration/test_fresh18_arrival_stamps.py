"""The live delivery's stamps for whoever attributes a write's freshness (the freshness
suite's "stored in the stream -> its batch's first event at the projector"): a batch handed
over after the one before it applied names when its first message arrived, when its last did,
and when it was taken, in that order."""

from __future__ import annotations

import asyncio

from nats.aio.client import Client as NATS

from eventstore.clock import FixedClock
from eventstore.store import StoredEvent
from eventstore.subscription import delivery
from tests.integration.test_live_pull import consumer_when, live
from tests.support.subscribers import append_one, ledger_store, wait_for


async def test_a_batch_names_its_first_and_last_arrivals_and_its_taking(
    nats_client: NATS, fixed_clock: FixedClock
) -> None:
    store = await ledger_store(nats_client, fixed_clock)
    await append_one(store, 1)
    seen: list[int] = []
    stamps: list[dict[str, float]] = []
    entered, release = asyncio.Event(), asyncio.Event()

    async def handler(events: list[StoredEvent]) -> None:
        entered.set()
        await release.wait()
        stamps.append(dict(delivery.get() or {}))
        seen.extend(e.seq for e in events)

    subscriber = live(nats_client, "stamped-test", handler, seen)
    subscriber.start()
    try:
        await asyncio.wait_for(entered.wait(), 60)  # holding seq 1
        for n in (2, 3, 4):  # each stored (and pushed) after the one before
            await append_one(store, n)
        await consumer_when(nats_client, "stamped-test", lambda i: i.num_ack_pending == 4)
        release.set()
        await wait_for(lambda: seen == [1, 2, 3, 4])
        assert len(stamps) == 2  # [1], then [2, 3, 4] at once
        later = stamps[1]
        assert later["arrived"] < later["fetched"] <= later["taken"]
    finally:
        release.set()
        await subscriber.stop()
